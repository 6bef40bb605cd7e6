/**
 * Master-key rotation (`ridetally keys rotate`): find the rows still under another master key and
 * write them back re-keyed. A ciphertext names its key (byte 0 is the format version, bytes 1-4 the
 * key id), so `substring(col FROM 2 FOR 4)` tells old rows from new ones in SQL; a keyed hash does
 * not, and follows the ciphertext written with it (persons.id_hash with id_ciphertext,
 * taps.media_key and tap_keys.content_hash with taps.media_ciphertext, an ID card's binding with
 * its holder). Every write is one statement per batch (unnest), in the caller's transaction.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

/** The key id (hex) of a bytea ciphertext column, as SQL. */
const keyIdOf = (column: RawBuilder<unknown>) => sql`encode(substring(${column} FROM 2 FOR 4), 'hex')`;

const hexOf = (b: Buffer | null) => (b ? b.toString('hex') : null);

// ---------------------------------------------------------------- run state

export interface KeyRotationRow {
  from_key_id: string;
  to_key_id: string;
  started_at: Date;
  finished_at: Date | null;
}

/** The rotation from → to, created (started now) on its first run; re-runs get the first run's row. */
export async function beginKeyRotation(db: Db, fromKeyId: string, toKeyId: string, now: Date): Promise<KeyRotationRow> {
  await sql`
    INSERT INTO key_rotations (from_key_id, to_key_id, started_at) VALUES (${fromKeyId}, ${toKeyId}, ${now})
    ON CONFLICT (from_key_id, to_key_id) DO NOTHING`.execute(db);
  return (await findKeyRotation(db, fromKeyId, toKeyId))!;
}

export async function findKeyRotation(db: Db, fromKeyId: string, toKeyId: string): Promise<KeyRotationRow | undefined> {
  const { rows } = await sql<KeyRotationRow>`
    SELECT from_key_id, to_key_id, started_at, finished_at FROM key_rotations
    WHERE from_key_id = ${fromKeyId} AND to_key_id = ${toKeyId}`.execute(db);
  return rows[0];
}

export async function finishKeyRotation(db: Db, fromKeyId: string, toKeyId: string, now: Date): Promise<void> {
  await sql`UPDATE key_rotations SET finished_at = ${now} WHERE from_key_id = ${fromKeyId} AND to_key_id = ${toKeyId}`.execute(db);
}

// ---------------------------------------------------------------- what is left

export interface KeyUsageCounts {
  /** devices with a secret (current or previous) under another key */
  devices: number;
  /** persons with a ciphertext (ID, name, phone) under another key */
  persons: number;
  /** ID-card bindings whose holder's ID is still under another key, or whose key is not the holder's id_hash */
  idCardBindings: number;
  /** ID-card taps (media key, ciphertext and tap_keys content hash) under another key */
  idCardTaps: number;
}

/** Rows still under a key other than `currentKeyId`. */
export async function countRowsUnderOtherKeys(db: Db, currentKeyId: string): Promise<KeyUsageCounts> {
  const { rows } = await sql<KeyUsageCounts>`
    SELECT
      (SELECT count(*)::int FROM devices
        WHERE ${keyIdOf(sql.ref('secret_ciphertext'))} <> ${currentKeyId}
           OR (previous_secret_ciphertext IS NOT NULL AND ${keyIdOf(sql.ref('previous_secret_ciphertext'))} <> ${currentKeyId})) AS "devices",
      (SELECT count(*)::int FROM persons
        WHERE ${keyIdOf(sql.ref('id_ciphertext'))} <> ${currentKeyId} OR ${keyIdOf(sql.ref('name_ciphertext'))} <> ${currentKeyId}
           OR (phone_ciphertext IS NOT NULL AND ${keyIdOf(sql.ref('phone_ciphertext'))} <> ${currentKeyId})) AS "persons",
      (SELECT count(*)::int FROM media_bindings b JOIN persons p ON p.person_id = b.person_id
        WHERE b.media_type = 'id_card' AND (${keyIdOf(sql.ref('p.id_ciphertext'))} <> ${currentKeyId} OR b.media_key <> p.id_hash)) AS "idCardBindings",
      (SELECT count(*)::int FROM taps
        WHERE media_type = 'id_card' AND (media_ciphertext IS NULL OR ${keyIdOf(sql.ref('media_ciphertext'))} <> ${currentKeyId})) AS "idCardTaps"`.execute(db);
  return rows[0]!;
}

/** Distinct key ids found in the ciphertext columns (to spot data under a key that is neither current nor previous). */
export async function findCiphertextKeyIds(db: Db): Promise<string[]> {
  const { rows } = await sql<{ k: string }>`
    SELECT DISTINCT k FROM (
      SELECT ${keyIdOf(sql.ref('secret_ciphertext'))} AS k FROM devices
      UNION SELECT ${keyIdOf(sql.ref('previous_secret_ciphertext'))} FROM devices WHERE previous_secret_ciphertext IS NOT NULL
      UNION SELECT ${keyIdOf(sql.ref('id_ciphertext'))} FROM persons
      UNION SELECT ${keyIdOf(sql.ref('name_ciphertext'))} FROM persons
      UNION SELECT ${keyIdOf(sql.ref('phone_ciphertext'))} FROM persons WHERE phone_ciphertext IS NOT NULL
      UNION SELECT ${keyIdOf(sql.ref('media_ciphertext'))} FROM taps WHERE media_type = 'id_card' AND media_ciphertext IS NOT NULL
    ) x ORDER BY k`.execute(db);
  return rows.map((r) => r.k);
}

// ---------------------------------------------------------------- devices

export interface DeviceCiphertexts {
  device_id: string;
  secret_ciphertext: Buffer;
  previous_secret_ciphertext: Buffer | null;
}

/** Up to `limit` devices after `afterId` with a secret under another key, locked (SKIP LOCKED: parallel runs share the work). */
export async function lockDevicesToRekey(trx: Transaction<DB>, currentKeyId: string, afterId: string, limit: number): Promise<DeviceCiphertexts[]> {
  const { rows } = await sql<DeviceCiphertexts>`
    SELECT device_id, secret_ciphertext, previous_secret_ciphertext FROM devices
    WHERE device_id > ${afterId}
      AND (${keyIdOf(sql.ref('secret_ciphertext'))} <> ${currentKeyId}
           OR (previous_secret_ciphertext IS NOT NULL AND ${keyIdOf(sql.ref('previous_secret_ciphertext'))} <> ${currentKeyId}))
    ORDER BY device_id LIMIT ${limit} FOR UPDATE SKIP LOCKED`.execute(trx);
  return rows;
}

export async function updateDeviceCiphertexts(trx: Transaction<DB>, rows: DeviceCiphertexts[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    UPDATE devices d SET secret_ciphertext = decode(u.s, 'hex'), previous_secret_ciphertext = decode(u.p, 'hex')
    FROM unnest(${rows.map((r) => r.device_id)}::text[], ${rows.map((r) => hexOf(r.secret_ciphertext))}::text[],
                ${rows.map((r) => hexOf(r.previous_secret_ciphertext))}::text[]) AS u(device_id, s, p)
    WHERE d.device_id = u.device_id`.execute(trx);
}

// ---------------------------------------------------------------- persons and their ID cards

export interface PersonCiphertexts {
  person_id: string;
  id_hash: string;
  id_ciphertext: Buffer;
  name_ciphertext: Buffer;
  phone_ciphertext: Buffer | null;
}

/** Up to `limit` persons after `afterId` (uuid order) with a ciphertext under another key, locked. */
export async function lockPersonsToRekey(trx: Transaction<DB>, currentKeyId: string, afterId: string, limit: number): Promise<PersonCiphertexts[]> {
  const { rows } = await sql<PersonCiphertexts>`
    SELECT person_id, id_hash, id_ciphertext, name_ciphertext, phone_ciphertext FROM persons
    WHERE person_id > ${afterId}::uuid
      AND (${keyIdOf(sql.ref('id_ciphertext'))} <> ${currentKeyId} OR ${keyIdOf(sql.ref('name_ciphertext'))} <> ${currentKeyId}
           OR (phone_ciphertext IS NOT NULL AND ${keyIdOf(sql.ref('phone_ciphertext'))} <> ${currentKeyId}))
    ORDER BY person_id LIMIT ${limit} FOR UPDATE SKIP LOCKED`.execute(trx);
  return rows;
}

/** Persons (other than those given) already holding one of these id hashes. */
export async function findPersonIdsByIdHash(db: Db, idHashes: readonly string[]): Promise<{ person_id: string; id_hash: string }[]> {
  if (idHashes.length === 0) return [];
  const { rows } = await sql<{ person_id: string; id_hash: string }>`
    SELECT person_id, id_hash FROM persons WHERE id_hash = ANY(${idHashes}::text[])`.execute(db);
  return rows;
}

export async function updatePersonCiphertexts(trx: Transaction<DB>, rows: PersonCiphertexts[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    UPDATE persons p SET id_hash = u.h, id_ciphertext = decode(u.i, 'hex'), name_ciphertext = decode(u.n, 'hex'),
                         phone_ciphertext = decode(u.ph, 'hex')
    FROM unnest(${rows.map((r) => r.person_id)}::uuid[], ${rows.map((r) => r.id_hash)}::text[], ${rows.map((r) => hexOf(r.id_ciphertext))}::text[],
                ${rows.map((r) => hexOf(r.name_ciphertext))}::text[], ${rows.map((r) => hexOf(r.phone_ciphertext))}::text[])
         AS u(person_id, h, i, n, ph)
    WHERE p.person_id = u.person_id`.execute(trx);
}

/**
 * Re-keys the ID-card bindings of the media keys given (old → new) in place, in ONE statement: the
 * exclusion constraint (media_type, media_key, valid &&) sees each row move from one key to
 * another, never a copy of it next to the original. Returns the number of bindings changed.
 */
export async function rekeyIdCardBindings(trx: Transaction<DB>, changes: readonly { from: string; to: string }[]): Promise<number> {
  if (changes.length === 0) return 0;
  const r = await sql`
    UPDATE media_bindings b SET media_key = u.to_key
    FROM unnest(${changes.map((c) => c.from)}::text[], ${changes.map((c) => c.to)}::text[]) AS u(from_key, to_key)
    WHERE b.media_type = 'id_card' AND b.media_key = u.from_key`.execute(trx);
  return Number(r.numAffectedRows ?? 0);
}

/** Persons with an ID-card binding under one of these keys, with the binding's start. */
export async function findIdCardBindingHolders(db: Db, mediaKeys: readonly string[]): Promise<{ person_id: string; media_key: string }[]> {
  if (mediaKeys.length === 0) return [];
  const { rows } = await sql<{ person_id: string; media_key: string }>`
    SELECT DISTINCT person_id, media_key FROM media_bindings WHERE media_type = 'id_card' AND media_key = ANY(${mediaKeys}::text[])`.execute(db);
  return rows;
}

// ---------------------------------------------------------------- ID-card taps

export interface IdCardTapRow {
  tap_id: number;
  tapped_at: Date;
  device_id: string;
  seq: number;
  vehicle_id: string;
  route_id: string;
  stop_id: string | null;
  media_kind: string | null;
  media_key: string;
  media_ciphertext: Buffer | null;
  batch_id: number;
}

/** Every ID-card tap under these media keys, locked. */
export async function lockIdCardTapsOfKeys(trx: Transaction<DB>, mediaKeys: readonly string[]): Promise<IdCardTapRow[]> {
  if (mediaKeys.length === 0) return [];
  const { rows } = await sql<IdCardTapRow>`
    SELECT tap_id, tapped_at, device_id, seq, vehicle_id, route_id, stop_id, media_kind, media_key, media_ciphertext, batch_id
    FROM taps WHERE media_type = 'id_card' AND media_key = ANY(${mediaKeys}::text[])
    ORDER BY tap_id FOR UPDATE`.execute(trx);
  return rows;
}

/**
 * Up to `limit` distinct media keys of ID-card taps whose ciphertext is under another key and that
 * are no person's id_hash (those move with their person), in key order after `afterKey` (a cursor: the taps_media index is read in order, once per run), each with
 * one of its ciphertexts (to learn the ID number and so the new key).
 */
export async function findIdCardTapKeysToRekey(
  db: Db,
  currentKeyId: string,
  afterKey: string,
  limit: number,
): Promise<{ media_key: string; media_ciphertext: Buffer | null }[]> {
  const { rows } = await sql<{ media_key: string; media_ciphertext: Buffer | null }>`
    SELECT DISTINCT ON (media_key) media_key, media_ciphertext FROM taps
    WHERE media_type = 'id_card' AND media_key > ${afterKey}
      AND (media_ciphertext IS NULL OR ${keyIdOf(sql.ref('media_ciphertext'))} <> ${currentKeyId})
      AND NOT EXISTS (SELECT 1 FROM persons p WHERE p.id_hash = taps.media_key)
    ORDER BY media_key, tap_id LIMIT ${limit}`.execute(db);
  return rows;
}

export interface TapRekey {
  tap_id: number;
  tapped_at: Date;
  device_id: string;
  seq: number;
  /** the media key the tap is stored under now */
  from_media_key: string;
  media_key: string;
  media_ciphertext: Buffer;
  /** SHA-256 hex of the tap's canonical content under the new media key */
  content_hash: string;
}

/**
 * Writes re-keyed taps and their tap_keys content hashes (two statements, same transaction). The
 * extra conditions (old media keys, time span, tap ids) let the planner reach the rows through the
 * taps_media and tap_keys_tap_id indexes and prune partitions; a bare join on the unnest would hash
 * the whole of taps and tap_keys once per batch.
 */
export async function updateTapsRekeyed(trx: Transaction<DB>, rows: TapRekey[]): Promise<void> {
  if (rows.length === 0) return;
  const times = rows.map((r) => r.tapped_at.getTime());
  const from = new Date(Math.min(...times));
  const to = new Date(Math.max(...times));
  await sql`
    UPDATE taps t SET media_key = u.k, media_ciphertext = decode(u.c, 'hex')
    FROM unnest(${rows.map((r) => String(r.tap_id))}::int8[], ${rows.map((r) => r.tapped_at.toISOString())}::timestamptz[],
                ${rows.map((r) => r.media_key)}::text[], ${rows.map((r) => hexOf(r.media_ciphertext))}::text[]) AS u(tap_id, tapped_at, k, c)
    WHERE t.media_type = 'id_card' AND t.media_key = ANY(${[...new Set(rows.map((r) => r.from_media_key))]}::text[])
      AND t.tapped_at >= ${from} AND t.tapped_at <= ${to}
      AND t.tap_id = u.tap_id AND t.tapped_at = u.tapped_at`.execute(trx);
  await sql`
    UPDATE tap_keys k SET content_hash = decode(u.h, 'hex')
    FROM unnest(${rows.map((r) => r.device_id)}::text[], ${rows.map((r) => String(r.seq))}::int8[], ${rows.map((r) => r.content_hash)}::text[])
         AS u(device_id, seq, h)
    WHERE k.tap_id = ANY(${rows.map((r) => String(r.tap_id))}::int8[]) AND k.device_id = u.device_id AND k.seq = u.seq`.execute(trx);
}

/**
 * Ingest batches holding ID-card taps under these (new) media keys other than the taps given: taps
 * that arrived under the new key while their holder's binding was still under the old one.
 */
export async function findBatchesOfOtherTaps(db: Db, mediaKeys: readonly string[], exceptTapIds: readonly number[]): Promise<number[]> {
  if (mediaKeys.length === 0) return [];
  const { rows } = await sql<{ batch_id: number }>`
    SELECT DISTINCT batch_id FROM taps
    WHERE media_type = 'id_card' AND media_key = ANY(${mediaKeys}::text[])
      -- NOT IN (subquery) is a hashed anti-join; NOT (x = ANY(array)) would compare every row with every id.
      AND tap_id NOT IN (SELECT unnest(${exceptTapIds.map(String)}::int8[]))
    ORDER BY batch_id`.execute(db);
  return rows.map((r) => r.batch_id);
}

/** Of these ingest batches, those whose `taps` outbox entry is not processed yet (a worker may be reading them). */
export async function findUnprocessedTapBatches(db: Db, batchIds: readonly number[]): Promise<number[]> {
  if (batchIds.length === 0) return [];
  const { rows } = await sql<{ batch_id: number }>`
    SELECT DISTINCT (payload->>'batchId')::int8 AS batch_id FROM outbox
    WHERE processed_at IS NULL AND topic = 'taps' AND (payload->>'batchId')::int8 = ANY(${batchIds.map(String)}::int8[])
    ORDER BY 1`.execute(db);
  return rows.map((r) => r.batch_id);
}

// ---------------------------------------------------------------- tokens

/** Revokes active staff sessions created before `before` (their token hashes are under the old key). */
export async function revokeStaffSessionsCreatedBefore(db: Db, before: Date, now: Date): Promise<number> {
  const r = await sql`
    UPDATE staff_sessions SET revoked_at = ${now}
    WHERE revoked_at IS NULL AND expires_at > ${now} AND created_at < ${before}`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

/** Active staff sessions created before `before`. */
export async function countStaffSessionsCreatedBefore(db: Db, before: Date, now: Date): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM staff_sessions WHERE revoked_at IS NULL AND expires_at > ${now} AND created_at < ${before}`.execute(db);
  return rows[0]!.n;
}

/** Active rider-app clients created before `before`: their token hashes are under the old key (tokens must be re-issued). */
export async function findApiClientsCreatedBefore(db: Db, before: Date): Promise<{ client_id: string; name: string }[]> {
  const { rows } = await sql<{ client_id: string; name: string }>`
    SELECT client_id, name FROM api_clients WHERE revoked_at IS NULL AND created_at < ${before} ORDER BY client_id`.execute(db);
  return rows;
}
