/**
 * Media bindings (R1): a medium bound to a person over an instant range [valid_from, valid_to).
 * One medium belongs to at most one person at a time: the exclusion constraint
 * `media_bindings_media_type_media_key_valid_excl` decides, and an overlap is reported as
 * `BindingOverlapError`.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB, MediaBindingsTable } from '../types';

type Db = Kysely<DB> | Transaction<DB>;
export type BindingMediaType = MediaBindingsTable['media_type'];

export interface BindingRow {
  id: number;
  person_id: string;
  media_type: BindingMediaType;
  media_kind: string | null;
  media_key: string;
  valid_from: Date;
  /** exclusive end, null when open-ended */
  valid_to: Date | null;
}

export interface NewBinding {
  person_id: string;
  media_type: BindingMediaType;
  media_kind: string | null;
  media_key: string;
  valid_from: Date;
  valid_to: Date | null;
}

/** The medium is already bound to someone (maybe the same person) over part of the interval. */
export class BindingOverlapError extends Error {
  override name = 'BindingOverlapError';
}

/** True for PostgreSQL's exclusion_violation (23P01). */
function isExclusionViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && (err).code === '23P01';
}

const SELECT_BINDING = sql`id, person_id, media_type, media_kind, media_key,
  lower(valid) AS valid_from, upper(valid) AS valid_to`;

/** Inserts one binding; throws BindingOverlapError when the medium is bound to anyone over part of it. */
export async function insertBinding(db: Db, b: NewBinding): Promise<BindingRow> {
  try {
    const { rows } = await sql<BindingRow>`
      INSERT INTO media_bindings (person_id, media_type, media_kind, media_key, valid)
      VALUES (${b.person_id}, ${b.media_type}, ${b.media_kind}, ${b.media_key}, tstzrange(${b.valid_from}::timestamptz, ${b.valid_to}::timestamptz, '[)'))
      RETURNING ${SELECT_BINDING}`.execute(db);
    return rows[0]!;
  } catch (err) {
    if (isExclusionViolation(err)) throw new BindingOverlapError('this medium is already bound over part of that interval');
    throw err;
  }
}

/** Bulk insert (one statement); throws BindingOverlapError on any overlap. */
export async function insertBindings(db: Db, list: readonly NewBinding[]): Promise<void> {
  if (list.length === 0) return;
  try {
    await sql`
      INSERT INTO media_bindings (person_id, media_type, media_kind, media_key, valid)
      SELECT p, t, k, m, tstzrange(f, u, '[)')
      FROM unnest(
        ${list.map((b) => b.person_id)}::uuid[],
        ${list.map((b) => b.media_type)}::text[],
        ${list.map((b) => b.media_kind)}::text[],
        ${list.map((b) => b.media_key)}::text[],
        ${list.map((b) => b.valid_from)}::timestamptz[],
        ${list.map((b) => b.valid_to)}::timestamptz[]) AS x(p, t, k, m, f, u)`.execute(db);
  } catch (err) {
    if (isExclusionViolation(err)) throw new BindingOverlapError('a medium is already bound over part of an interval');
    throw err;
  }
}

/** The bindings of a medium, any person, overlapping [from, to) (to null: open). */
export async function findBindingsOfMedium(
  db: Db,
  mediaType: BindingMediaType,
  mediaKey: string,
  from: Date,
  to: Date | null,
): Promise<BindingRow[]> {
  const { rows } = await sql<BindingRow>`
    SELECT ${SELECT_BINDING} FROM media_bindings
    WHERE media_type = ${mediaType} AND media_key = ${mediaKey}
      AND valid && tstzrange(${from}::timestamptz, ${to}::timestamptz, '[)')
    ORDER BY lower(valid)`.execute(db);
  return rows;
}

/** Every binding of these media (type, key pairs), for import comparison. */
export async function findBindingsOfMedia(
  db: Db,
  media: readonly { media_type: BindingMediaType; media_key: string }[],
): Promise<BindingRow[]> {
  if (media.length === 0) return [];
  const { rows } = await sql<BindingRow>`
    SELECT ${SELECT_BINDING} FROM media_bindings b
    WHERE (b.media_type, b.media_key) IN (
      SELECT * FROM unnest(${media.map((m) => m.media_type)}::text[], ${media.map((m) => m.media_key)}::text[]))
    ORDER BY b.media_type, b.media_key, lower(b.valid)`.execute(db);
  return rows;
}

export async function findBindingsOfPerson(db: Db, personId: string): Promise<BindingRow[]> {
  const { rows } = await sql<BindingRow>`
    SELECT ${SELECT_BINDING} FROM media_bindings WHERE person_id = ${personId} ORDER BY lower(valid), id`.execute(db);
  return rows;
}

/**
 * The person's binding of this medium that is still valid at `at` or starts before it and has not
 * ended by then: the one an unbind at `at` would end.
 */
export async function findBindingToEnd(
  db: Db,
  personId: string,
  mediaType: BindingMediaType,
  mediaKey: string,
  at: Date,
): Promise<BindingRow | undefined> {
  const { rows } = await sql<BindingRow>`
    SELECT ${SELECT_BINDING} FROM media_bindings
    WHERE person_id = ${personId} AND media_type = ${mediaType} AND media_key = ${mediaKey}
      AND lower(valid) < ${at}::timestamptz
      AND (upper(valid) IS NULL OR upper(valid) > ${at}::timestamptz)
    FOR UPDATE`.execute(db);
  return rows[0];
}

/** Ends a binding at `at` (exclusive); its earlier part, and the taps in it, stay the person's. */
export async function endBinding(db: Db, id: number, at: Date, now: Date): Promise<void> {
  await sql`
    UPDATE media_bindings SET valid = tstzrange(lower(valid), ${at}::timestamptz, '[)'), updated_at = ${now}
    WHERE id = ${id}`.execute(db);
}

/** Deletes bindings (import replacing a medium's intervals). */
export async function deleteBindings(db: Db, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`DELETE FROM media_bindings WHERE id = ANY(${ids}::bigint[])`.execute(db);
}
