/**
 * Taps: the group-commit write path of the ingest service and its quarantine. Tap identity is
 * (device_id, seq) in tap_keys; a resend collides there whatever its tapped_at (taps is partitioned
 * by month, so it cannot carry that unique key itself).
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type pg from 'pg';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

/** One tap ready to store. (device_id, seq) must be unique within one call. */
export interface TapInsertRow {
  deviceId: string;
  seq: number;
  tappedAt: Date;
  receivedAt: Date;
  /** SHA-256 (hex) of the tap's canonical content: tells a resend from a seq_conflict. */
  contentHash: string;
  vehicleId: string;
  routeId: string;
  stopId: string | null;
  mediaType: 'transit_card' | 'ecard' | 'qr' | 'id_card';
  mediaKind: string | null;
  mediaKey: string;
  mediaCiphertext: Buffer | null;
}

export interface TapGroupResult {
  /** The ingest batch created, or null when every tap was already known. */
  batchId: number | null;
  /** The (device, seq) pairs stored by this call; the others already had a key. */
  inserted: { device_id: string; seq: number; tap_id: number }[];
}

const hex = (b: Buffer | null) => (b ? b.toString('hex') : null);

/**
 * Stores a group of taps in ONE statement, hence one atomic transaction and one round trip: keys
 * first (ON CONFLICT DO NOTHING, in key order so concurrent groups lock in the same order), then
 * one ingest batch and the taps of the keys that were new, the batch's outbox entry
 * (`{topic: 'taps', payload: {batchId}}`, the OutboxEntry contract of outbox.repository.ts), and
 * the quarantined taps given. Nothing is written for an empty batch. With `pool` (PostgreSQL) the
 * statement runs prepared on that pool — the one `db` uses.
 */
export async function insertTapGroup(db: Db, rows: TapInsertRow[], quarantine: QuarantineRow[] = [], pool?: pg.Pool): Promise<TapGroupResult> {
  if (rows.length === 0 && quarantine.length === 0) return { batchId: null, inserted: [] };
  const statement = tapGroupStatement(rows, quarantine);
  let out: { device_id: string; seq: number; tap_id: number; batch_id: number | null }[];
  if (pool) {
    // A named prepared statement: parsed and planned once per connection, not once per group (that
    // halved PostgreSQL's fixed cost of a small group, ~1 ms of its CPU, measured). Same SQL, same
    // pool and type parsers as Kysely's; the text never changes, so one name fits every group.
    const compiled = statement.compile(db);
    out = (await pool.query<(typeof out)[number]>({ name: 'ridetally_tap_group', text: compiled.sql, values: [...compiled.parameters] })).rows;
  } else {
    out = (await statement.execute(db)).rows;
  }
  return {
    batchId: out[0]?.batch_id ?? null,
    inserted: out.map(({ device_id, seq, tap_id }) => ({ device_id, seq, tap_id })),
  };
}

/**
 * The group-commit statement (see insertTapGroup). Its shape keeps PostgreSQL's work per tap low:
 * instants travel as epoch milliseconds (float8 → to_timestamp, exact to the millisecond: no
 * timestamp text to format in Node and parse in PostgreSQL, twice per tap), the batch's bounds come
 * from the keys' own RETURNING (no join), and the input is joined to the new keys once.
 */
export function tapGroupStatement(rows: TapInsertRow[], quarantine: QuarantineRow[] = []) {
  const q = quarantineColumns(quarantine);
  const n = rows.length;
  const deviceId = new Array<string>(n);
  const seq = new Array<number>(n);
  const tappedMs = new Array<number>(n);
  const receivedMs = new Array<number>(n);
  const contentHash = new Array<string>(n);
  const vehicleId = new Array<string>(n);
  const routeId = new Array<string>(n);
  const stopId = new Array<string | null>(n);
  const mediaType = new Array<string>(n);
  const mediaKind = new Array<string | null>(n);
  const mediaKey = new Array<string>(n);
  // Arrays of text travel the same way on pg and PGlite; bytea goes as hex.
  const mediaCiphertext = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    deviceId[i] = r.deviceId;
    seq[i] = r.seq;
    tappedMs[i] = r.tappedAt.getTime();
    receivedMs[i] = r.receivedAt.getTime();
    contentHash[i] = r.contentHash;
    vehicleId[i] = r.vehicleId;
    routeId[i] = r.routeId;
    stopId[i] = r.stopId;
    mediaType[i] = r.mediaType;
    mediaKind[i] = r.mediaKind;
    mediaKey[i] = r.mediaKey;
    mediaCiphertext[i] = hex(r.mediaCiphertext);
  }
  const [t, num] = [textArrayLiteral, numberArrayLiteral];
  return sql<{ device_id: string; seq: number; tap_id: number; batch_id: number | null }>`
    WITH input AS (
      SELECT * FROM unnest(
        ${t(deviceId)}::text[], ${num(seq)}::int8[], ${num(tappedMs)}::float8[], ${num(receivedMs)}::float8[],
        ${t(contentHash)}::text[], ${t(vehicleId)}::text[], ${t(routeId)}::text[], ${t(stopId)}::text[],
        ${t(mediaType)}::text[], ${t(mediaKind)}::text[], ${t(mediaKey)}::text[], ${t(mediaCiphertext)}::text[]
      ) AS i(device_id, seq, tapped_ms, received_ms, content_hash, vehicle_id, route_id, stop_id,
             media_type, media_kind, media_key, media_ciphertext)
    ),
    keys AS (
      INSERT INTO tap_keys (device_id, seq, tap_id, tapped_at, content_hash)
      SELECT device_id, seq, nextval('tap_id_seq'), to_timestamp(tapped_ms / 1000), decode(content_hash, 'hex')
      FROM input ORDER BY device_id, seq
      ON CONFLICT (device_id, seq) DO NOTHING
      RETURNING device_id, seq, tap_id, tapped_at
    ),
    batch AS (
      INSERT INTO ingest_batches (tap_count, min_tapped_at, max_tapped_at)
      SELECT count(*), min(tapped_at), max(tapped_at) FROM keys
      HAVING count(*) > 0
      RETURNING batch_id
    ),
    stored AS (
      INSERT INTO taps (tap_id, device_id, seq, tapped_at, received_at, batch_id, vehicle_id, route_id, stop_id,
                        media_type, media_kind, media_key, media_ciphertext)
      SELECT k.tap_id, k.device_id, k.seq, k.tapped_at, to_timestamp(i.received_ms / 1000), b.batch_id, i.vehicle_id, i.route_id, i.stop_id,
             i.media_type, i.media_kind, i.media_key, decode(i.media_ciphertext, 'hex')
      FROM keys k JOIN input i ON i.device_id = k.device_id AND i.seq = k.seq CROSS JOIN batch b
    ),
    announced AS (
      INSERT INTO outbox (topic, payload) SELECT 'taps', jsonb_build_object('batchId', batch_id) FROM batch
    ),
    quarantined AS (${quarantineInsert(q)})
    SELECT k.device_id, k.seq, k.tap_id, (SELECT batch_id FROM batch) AS batch_id FROM keys k`;
}

const NEEDS_ESCAPE = /["\\]/;
/**
 * A PostgreSQL array literal of text, as pg would write it for an array parameter (every element
 * quoted, `"` and `\` escaped, NULL bare), without pg's two regex replacements per element when
 * there is nothing to escape: the group statement sends twelve arrays per tap.
 */
export function textArrayLiteral(values: readonly (string | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ',';
    if (v === null || v === undefined) out += 'NULL';
    else out += NEEDS_ESCAPE.test(v) ? `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : `"${v}"`;
  }
  return out + '}';
}

/** A PostgreSQL array literal of finite numbers. */
export function numberArrayLiteral(values: readonly number[]): string {
  return `{${values.join(',')}}`;
}

/** Content hashes of existing tap keys, to classify a non-inserted tap as duplicate or seq_conflict. */
export async function findTapKeyHashes(
  db: Db,
  keys: { deviceId: string; seq: number }[],
): Promise<{ device_id: string; seq: number; content_hash: string }[]> {
  if (keys.length === 0) return [];
  const { rows } = await sql<{ device_id: string; seq: number; content_hash: string }>`
    SELECT k.device_id, k.seq, encode(k.content_hash, 'hex') AS content_hash
    FROM tap_keys k
    JOIN unnest(${keys.map((k) => k.deviceId)}::text[], ${keys.map((k) => String(k.seq))}::int8[]) AS q(device_id, seq)
      ON k.device_id = q.device_id AND k.seq = q.seq`.execute(db);
  return rows;
}

/** A rejected tap kept for audit. `payload` must already be free of ID numbers. */
export interface QuarantineRow {
  deviceId: string;
  seq: number | null;
  receivedAt: Date;
  code: string;
  message: string;
  payload: unknown;
}

function quarantineColumns(rows: QuarantineRow[]) {
  return {
    deviceId: rows.map((r) => r.deviceId),
    seq: rows.map((r) => (r.seq === null ? null : String(r.seq))),
    receivedAt: rows.map((r) => r.receivedAt.toISOString()),
    code: rows.map((r) => r.code),
    message: rows.map((r) => r.message),
    payload: rows.map((r) => JSON.stringify(r.payload ?? null)),
  };
}

export async function insertQuarantinedTaps(db: Db, rows: QuarantineRow[]): Promise<void> {
  if (rows.length === 0) return;
  await quarantineInsert(quarantineColumns(rows)).execute(db);
}

/**
 * The quarantine INSERT. A quarantined tap is identified by (device_id, seq, content_hash) — the
 * hash is a generated column over the code and the payload (migration 20261129000300) — so a
 * replayed batch adds nothing: ON CONFLICT DO NOTHING. Rows go in identity order so two replays
 * committing at once take their row locks in the same order (no deadlock).
 */
function quarantineInsert(q: ReturnType<typeof quarantineColumns>) {
  return sql`
    INSERT INTO quarantined_taps (device_id, seq, received_at, code, message, payload)
    SELECT device_id, seq, received_at, code, message, payload::jsonb
    FROM unnest(${q.deviceId}::text[], ${q.seq}::int8[], ${q.receivedAt}::timestamptz[], ${q.code}::text[], ${q.message}::text[], ${q.payload}::text[])
      AS q(device_id, seq, received_at, code, message, payload)
    ORDER BY device_id, seq, quarantine_content_hash(code, payload::jsonb)
    ON CONFLICT (device_id, seq, content_hash) DO NOTHING`;
}
