/**
 * Persons (real-name riders and employees). Only keyed hashes, ciphertexts and the masked name are
 * stored; the service layer (packages/registry) encrypts and decrypts.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

export interface PersonRow {
  person_id: string;
  id_hash: string;
  name_ciphertext: Buffer;
  name_masked: string;
  phone_ciphertext: Buffer | null;
}

export interface NewPerson {
  id_hash: string;
  id_ciphertext: Buffer;
  name_ciphertext: Buffer;
  name_masked: string;
  phone_ciphertext: Buffer | null;
}

export async function findPersonById(db: Db, personId: string): Promise<PersonRow | undefined> {
  return db
    .selectFrom('persons')
    .select(['person_id', 'id_hash', 'name_ciphertext', 'name_masked', 'phone_ciphertext'])
    .where('person_id', '=', personId)
    .executeTakeFirst();
}

export async function findPersonByIdHash(db: Db, idHash: string): Promise<PersonRow | undefined> {
  return db
    .selectFrom('persons')
    .select(['person_id', 'id_hash', 'name_ciphertext', 'name_masked', 'phone_ciphertext'])
    .where('id_hash', '=', idHash)
    .executeTakeFirst();
}

/**
 * The person stored under the first of these ID hashes that one holds (one statement). During a
 * master-key rotation pass `keyring.idHashCandidates(id)`: the new key's hash first, then the old.
 */
export async function findPersonByIdHashes(db: Db, idHashes: readonly string[]): Promise<PersonRow | undefined> {
  if (idHashes.length === 0) return undefined;
  const rows = await findPersonsByIdHashes(db, idHashes);
  return idHashes.map((h) => rows.find((r) => r.id_hash === h)).find((r) => r !== undefined);
}

/**
 * The person's id_hash, share-locked (FOR KEY SHARE) until the end of the transaction: `keys rotate`
 * (which locks a person FOR UPDATE and changes id_hash) waits, or is waited for. An ID-card binding
 * written under this key in the same transaction therefore always carries its holder's key, and the
 * rotation moves both together.
 */
export async function lockPersonIdHash(db: Transaction<DB>, personId: string): Promise<string | undefined> {
  const { rows } = await sql<{ id_hash: string }>`SELECT id_hash FROM persons WHERE person_id = ${personId}::uuid FOR KEY SHARE`.execute(db);
  return rows[0]?.id_hash;
}

/** The same, for many persons (one statement); person_id → id_hash. */
export async function lockPersonsIdHashes(db: Transaction<DB>, personIds: readonly string[]): Promise<Map<string, string>> {
  if (personIds.length === 0) return new Map();
  const { rows } = await sql<{ person_id: string; id_hash: string }>`
    SELECT person_id, id_hash FROM persons WHERE person_id = ANY(${personIds}::uuid[]) ORDER BY person_id FOR KEY SHARE`.execute(db);
  return new Map(rows.map((r) => [r.person_id, r.id_hash]));
}

/** The persons with these ID hashes, in one statement. */
export async function findPersonsByIdHashes(db: Db, idHashes: readonly string[]): Promise<PersonRow[]> {
  if (idHashes.length === 0) return [];
  const { rows } = await sql<PersonRow>`
    SELECT person_id, id_hash, name_ciphertext, name_masked, phone_ciphertext
    FROM persons WHERE id_hash = ANY(${idHashes}::text[])`.execute(db);
  return rows;
}

/**
 * Inserts a person unless one with the same ID hash exists (the UNIQUE constraint decides, so two
 * concurrent registrations of one ID number get one person). Returns the new id, or undefined.
 */
export async function insertPersonIfAbsent(db: Db, person: NewPerson): Promise<string | undefined> {
  const row = await db
    .insertInto('persons')
    .values(person)
    .onConflict((oc) => oc.column('id_hash').doNothing())
    .returning('person_id')
    .executeTakeFirst();
  return row?.person_id;
}

/** Replaces a person's name and phone (ciphertexts) and masked name; only the fields given. */
export async function updatePersonContact(
  db: Db,
  personId: string,
  change: { name_ciphertext?: Buffer; name_masked?: string; phone_ciphertext?: Buffer | null },
  at: Date,
): Promise<void> {
  const { name_ciphertext, name_masked, phone_ciphertext } = change;
  await sql`
    UPDATE persons SET
      name_ciphertext = coalesce(${name_ciphertext ?? null}::bytea, name_ciphertext),
      name_masked = coalesce(${name_masked ?? null}::text, name_masked),
      phone_ciphertext = CASE WHEN ${phone_ciphertext !== undefined} THEN ${phone_ciphertext ?? null}::bytea ELSE phone_ciphertext END,
      updated_at = ${at}
    WHERE person_id = ${personId}`.execute(db);
}

/** Bulk insert (one statement, unnest) skipping ID hashes that exist; returns id_hash → person_id of the new rows. */
export async function insertPersonsIfAbsent(db: Db, persons: readonly NewPerson[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (persons.length === 0) return out;
  const { rows } = await sql<{ id_hash: string; person_id: string }>`
    INSERT INTO persons (id_hash, id_ciphertext, name_ciphertext, name_masked, phone_ciphertext)
    SELECT * FROM unnest(
      ${persons.map((p) => p.id_hash)}::text[],
      ${persons.map((p) => p.id_ciphertext)}::bytea[],
      ${persons.map((p) => p.name_ciphertext)}::bytea[],
      ${persons.map((p) => p.name_masked)}::text[],
      ${persons.map((p) => p.phone_ciphertext)}::bytea[])
    ON CONFLICT (id_hash) DO NOTHING
    RETURNING id_hash, person_id`.execute(db);
  for (const r of rows) out.set(r.id_hash, r.person_id);
  return out;
}

/** Bulk update of names (one statement). */
export async function updatePersonNames(
  db: Db,
  changes: readonly { person_id: string; name_ciphertext: Buffer; name_masked: string }[],
  at: Date,
): Promise<void> {
  if (changes.length === 0) return;
  await sql`
    UPDATE persons p SET name_ciphertext = c.name_ciphertext, name_masked = c.name_masked, updated_at = ${at}
    FROM unnest(
      ${changes.map((c) => c.person_id)}::uuid[],
      ${changes.map((c) => c.name_ciphertext)}::bytea[],
      ${changes.map((c) => c.name_masked)}::text[]) AS c(person_id, name_ciphertext, name_masked)
    WHERE p.person_id = c.person_id`.execute(db);
}

/** Serialises registry imports (roster, media) so two files never interleave their compare-and-write. */
export async function lockRegistryImports(db: Db): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(74110301)`.execute(db);
}
