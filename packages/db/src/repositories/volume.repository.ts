/**
 * R14 passenger volume: per-tap judgements (tap_boardings) and their sums per Shanghai day and
 * route (volume_daily). The incremental path changes both together by exact deltas; the recompute
 * rebuilds the day sums from the judgements.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';
import { spanOf, toPgInstant } from './aggregation.repository';

type Db = Kysely<DB> | Transaction<DB>;

export interface VolumeKeyRange {
  mediaType: string;
  mediaKey: string;
  vehicleId: string;
  fromMs: number;
  toMs: number;
}

export interface LoadedVolumeTap {
  /** Index of the range in the request. */
  idx: number;
  tapId: number;
  at: number;
  routeId: string;
  /** The stored judgement; null when the tap has not been counted yet. */
  stored: boolean | null;
}

/**
 * Volume work takes this lock shared (workers do not block each other); a recompute slice takes it
 * exclusive, so no worker changes judgements between the slice's read and its write.
 */
export async function lockVolumeRecompute(db: Db, exclusive: boolean): Promise<void> {
  if (exclusive) await sql`SELECT pg_advisory_xact_lock(74122, 0)`.execute(db);
  else await sql`SELECT pg_advisory_xact_lock_shared(74122, 0)`.execute(db);
}

/** Number of taps in [from, to) (sizes the recompute's volume slices). */
export async function countTapsIn(db: Db, fromMs: number, toMs: number): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM taps WHERE tapped_at >= ${toPgInstant(fromMs)}::timestamptz AND tapped_at < ${toPgInstant(toMs)}::timestamptz`.execute(
    db,
  );
  return rows[0]!.n;
}

/** Serialises volume work on the same keys (hashed buckets, in order, after the person buckets). */
export async function lockVolumeBuckets(db: Db, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  await sql`
    SELECT pg_advisory_xact_lock(74121, s.b)
    FROM (SELECT DISTINCT hashtext(k) & 1023 AS b FROM unnest(${keys}::text[]) k ORDER BY 1) s`.execute(db);
}

/**
 * `lockVolumeBuckets` for the (medium, vehicle) keys of the batches, computed where the taps are (the
 * same text as `volumeKey`: type, medium, vehicle joined by U+001F), so 2,000 keys need not travel.
 */
export async function lockBatchVolumeBuckets(
  db: Db,
  batchIds: readonly number[],
  bounds: { fromMs: number; toMs: number },
): Promise<void> {
  await sql`
    SELECT pg_advisory_xact_lock(74121, s.b)
    FROM (SELECT DISTINCT hashtext(t.media_type || chr(31) || t.media_key || chr(31) || t.vehicle_id) & 1023 AS b
          FROM taps t
          WHERE t.batch_id = ANY(${batchIds}::bigint[])
            AND t.tapped_at >= ${toPgInstant(bounds.fromMs)}::timestamptz AND t.tapped_at < ${toPgInstant(bounds.toMs + 1)}::timestamptz
          ORDER BY 1) s`.execute(db);
}

/** Each key's taps in [from, to) with their stored judgement, ordered by range, time, tap id. */
export async function findVolumeTapsInRanges(
  db: Db,
  ranges: readonly VolumeKeyRange[],
): Promise<LoadedVolumeTap[]> {
  if (ranges.length === 0) return [];
  // LATERAL: one index probe (taps_media) per key, with run-time partition pruning on its window;
  // a plain join lets the planner hash the whole table. The span of all ranges prunes partitions at
  // plan time; `IS TRUE` keeps the planner off taps_vehicle, which it otherwise picked and which reads
  // every tap of the vehicle in the window (~50 rows, 0.25 ms per key, against ~3 buffers by medium).
  const span = spanOf(ranges);
  const { rows } = await sql<{
    idx: number;
    tap_id: number;
    at: number;
    route_id: string;
    boarding: boolean | null;
  }>`
    SELECT r.idx::int AS idx, t.tap_id, floor(extract(epoch FROM t.tapped_at) * 1000)::float8 AS at, t.route_id, b.boarding
    FROM unnest(${ranges.map((r) => r.mediaType)}::text[], ${ranges.map((r) => r.mediaKey)}::text[], ${ranges.map((r) => r.vehicleId)}::text[],
                ${ranges.map((r) => toPgInstant(r.fromMs))}::timestamptz[], ${ranges.map((r) => toPgInstant(r.toMs))}::timestamptz[])
         WITH ORDINALITY AS r(media_type, media_key, vehicle_id, lo, hi, idx)
    CROSS JOIN LATERAL (
      SELECT t.tap_id, t.tapped_at, t.route_id FROM taps t
      WHERE t.media_type = r.media_type AND t.media_key = r.media_key AND t.tapped_at >= r.lo AND t.tapped_at < r.hi
        AND t.tapped_at >= ${span.lo}::timestamptz AND t.tapped_at < ${span.hi}::timestamptz
        AND (t.vehicle_id = r.vehicle_id) IS TRUE
      OFFSET 0) t
    LEFT JOIN LATERAL (SELECT x.boarding FROM tap_boardings x WHERE x.tap_id = t.tap_id) b ON true
    ORDER BY r.idx, t.tapped_at, t.tap_id`.execute(db);
  return rows.map((r) => ({
    idx: r.idx - 1,
    tapId: r.tap_id,
    at: r.at,
    routeId: r.route_id,
    stored: r.boarding,
  }));
}

export interface BoardingChange {
  tapId: number;
  atMs: number;
  routeId: string;
  /** Shanghai date of the tap. */
  serviceDate: string;
  boarding: boolean;
  previous: boolean | null;
}

/** Writes changed judgements and applies their exact deltas to volume_daily. */
export async function applyBoardingChanges(db: Db, changes: readonly BoardingChange[]): Promise<void> {
  await applyBoardingChangesWithDeltas(db, changes, []);
}

/** A change of one volume_daily row. */
export interface VolumeDelta {
  serviceDate: string;
  routeId: string;
  boardings: number;
  taps: number;
}

/**
 * `applyBoardingChanges` plus deltas of judgements written elsewhere (`judgeIsolatedBatchTaps`),
 * summed into one volume_daily upsert in (date, route) order: a transaction that upserted those rows
 * twice, in two orders, could deadlock with another worker's.
 */
export async function applyBoardingChangesWithDeltas(
  db: Db,
  changes: readonly BoardingChange[],
  extra: readonly VolumeDelta[],
): Promise<void> {
  const changed = changes.filter((c) => c.previous !== c.boarding);
  const deltas = new Map<string, { date: string; route: string; boardings: number; taps: number }>();
  const add = (date: string, route: string, boardings: number, taps: number) => {
    const k = `${date}|${route}`;
    const d = deltas.get(k) ?? { date, route, boardings: 0, taps: 0 };
    d.boardings += boardings;
    d.taps += taps;
    deltas.set(k, d);
  };
  for (const c of changed)
    add(c.serviceDate, c.routeId, (c.boarding ? 1 : 0) - (c.previous ? 1 : 0), c.previous === null ? 1 : 0);
  for (const e of extra) add(e.serviceDate, e.routeId, e.boardings, e.taps);
  for (let i = 0; i < changed.length; i += 10000) {
    const chunk = changed.slice(i, i + 10000);
    await sql`
      INSERT INTO tap_boardings (tap_id, tapped_at, route_id, boarding)
      SELECT * FROM unnest(${chunk.map((c) => c.tapId)}::bigint[], ${chunk.map((c) => new Date(c.atMs).toISOString())}::timestamptz[],
                           ${chunk.map((c) => c.routeId)}::text[], ${chunk.map((c) => c.boarding)}::bool[])
      ON CONFLICT (tap_id) DO UPDATE SET boarding = excluded.boarding`.execute(db);
  }
  const list = [...deltas.values()]
    .filter((d) => d.boardings !== 0 || d.taps !== 0)
    .sort((a, b) => (a.date + a.route < b.date + b.route ? -1 : 1));
  if (list.length === 0) return;
  await sql`
    INSERT INTO volume_daily AS v (service_date, route_id, boardings, taps)
    SELECT * FROM unnest(${list.map((d) => d.date)}::date[], ${list.map((d) => d.route)}::text[], ${list.map((d) => d.boardings)}::int[], ${list.map((d) => d.taps)}::int[])
    ON CONFLICT (service_date, route_id) DO UPDATE SET
      boardings = v.boardings + excluded.boardings, taps = v.taps + excluded.taps, updated_at = now()`.execute(
    db,
  );
}

export interface BatchVolumeResult {
  /** Taps of the batches. */
  taps: number;
  /** Keys with a tap of the batches that has another tap of the key within the window: left untouched. */
  hardKeys: VolumeKeyRange[];
  /** volume_daily deltas of the judgements written (to apply with `applyBoardingChangesWithDeltas`). */
  deltas: VolumeDelta[];
}

/**
 * R14 for the batches' taps, set-based, in one statement. A tap with no other tap of its (medium,
 * vehicle) less than a window away on either side is a boarding (the last boarding before it is at
 * least a window earlier), and its arrival changes no other judgement: a later tap of the key is at
 * least a window after it, so it is a boarding before and after, and from a boarding on the
 * judgements depend only on later taps. Keys whose batch taps are all such taps are judged here,
 * their judgements written; every other key is returned for the per-key engine (`rederiveVolume`),
 * with the span of its batch taps. Instants compare at millisecond
 * precision, as everywhere in R14. The caller holds the keys' volume locks.
 */
export async function judgeIsolatedBatchTaps(
  db: Db,
  batchIds: readonly number[],
  bounds: { fromMs: number; toMs: number },
  windowSeconds: number,
): Promise<BatchVolumeResult> {
  const w = windowSeconds * 1000;
  const { rows } = await sql<{
    taps: number;
    hard: [string, string, string, number, number][];
    deltas: [string, string, number, number][];
  }>`
    WITH bt AS MATERIALIZED (
      SELECT t.tap_id, t.media_type, t.media_key, t.vehicle_id, t.route_id, t.tapped_at,
             floor(extract(epoch FROM t.tapped_at) * 1000)::float8 AS at
      FROM taps t
      WHERE t.batch_id = ANY(${batchIds}::bigint[])
        AND t.tapped_at >= ${toPgInstant(bounds.fromMs)}::timestamptz AND t.tapped_at < ${toPgInstant(bounds.toMs + 1)}::timestamptz),
    x AS MATERIALIZED (
      SELECT bt.*, EXISTS (
        SELECT 1 FROM taps o
        WHERE o.media_type = bt.media_type AND o.media_key = bt.media_key
          AND o.tapped_at > bt.tapped_at - make_interval(secs => ${(w + 1) / 1000}::float8)
          AND o.tapped_at < bt.tapped_at + make_interval(secs => ${(w + 1) / 1000}::float8)
          AND o.tapped_at > ${toPgInstant(bounds.fromMs - w - 1)}::timestamptz AND o.tapped_at < ${toPgInstant(bounds.toMs + w + 2)}::timestamptz
          AND (o.vehicle_id = bt.vehicle_id) IS TRUE AND o.tap_id <> bt.tap_id
          AND abs(floor(extract(epoch FROM o.tapped_at) * 1000)::float8 - bt.at) < ${w}::float8) AS crowded
      FROM bt),
    -- a window, not a join back to per-key rows: new batches have no statistics yet (estimated at
    -- one row), and the planner nested-looped 20,000 taps × 20,000 keys.
    k AS MATERIALIZED (
      SELECT x.*, bool_or(x.crowded) OVER (PARTITION BY x.media_type, x.media_key, x.vehicle_id) AS hard FROM x),
    j AS (
      SELECT k.tap_id, date_trunc('milliseconds', k.tapped_at) AS at_ts, k.route_id, b.boarding AS previous
      FROM k LEFT JOIN tap_boardings b ON b.tap_id = k.tap_id
      WHERE NOT k.hard AND b.boarding IS DISTINCT FROM true),
    up AS (
      INSERT INTO tap_boardings (tap_id, tapped_at, route_id, boarding)
      SELECT tap_id, at_ts, route_id, true FROM j
      ON CONFLICT (tap_id) DO UPDATE SET boarding = excluded.boarding
      RETURNING 1)
    SELECT (SELECT count(*) FROM x)::int AS taps,
           (SELECT coalesce(json_agg(json_build_array(media_type, media_key, vehicle_id, from_ms, to_ms)), '[]')
              FROM (SELECT media_type, media_key, vehicle_id, min(at) AS from_ms, max(at) AS to_ms
                    FROM k WHERE hard GROUP BY media_type, media_key, vehicle_id) h) AS hard,
           (SELECT coalesce(json_agg(json_build_array(d, route_id, b, n)), '[]') FROM (
              SELECT (at_ts AT TIME ZONE 'Asia/Shanghai')::date::text AS d, route_id, count(*)::int AS b,
                     (count(*) FILTER (WHERE previous IS NULL))::int AS n
              FROM j GROUP BY 1, 2) y) AS deltas,
           (SELECT count(*) FROM up)::int AS written`.execute(db);
  const row = rows[0]!;
  return {
    taps: row.taps,
    hardKeys: row.hard.map(([mediaType, mediaKey, vehicleId, fromMs, toMs]) => ({
      mediaType,
      mediaKey,
      vehicleId,
      fromMs,
      toMs,
    })),
    deltas: row.deltas.map(([serviceDate, routeId, boardings, taps]) => ({
      serviceDate,
      routeId,
      boardings,
      taps,
    })),
  };
}

export interface VolumeDailyRow {
  serviceDate: string;
  routeId: string;
  boardings: number;
  taps: number;
}

/** volume_daily rows for Shanghai dates in [fromDate, toDate). */
export async function findVolumeDaily(db: Db, fromDate: string, toDate: string): Promise<VolumeDailyRow[]> {
  const rows = await db
    .selectFrom('volume_daily')
    .select(['service_date', 'route_id', 'boardings', 'taps'])
    .where('service_date', '>=', fromDate)
    .where('service_date', '<', toDate)
    .orderBy('service_date')
    .orderBy('route_id')
    .execute();
  return rows.map((r) => ({
    serviceDate: r.service_date,
    routeId: r.route_id,
    boardings: r.boardings,
    taps: r.taps,
  }));
}

/** Day sums computed from the stored judgements for Shanghai dates in [fromDate, toDate). */
export async function sumBoardingsByDay(db: Db, fromDate: string, toDate: string): Promise<VolumeDailyRow[]> {
  const { rows } = await sql<{ service_date: string; route_id: string; boardings: number; taps: number }>`
    SELECT (tapped_at AT TIME ZONE 'Asia/Shanghai')::date AS service_date, route_id,
           count(*) FILTER (WHERE boarding)::int AS boardings, count(*)::int AS taps
    FROM tap_boardings
    WHERE tapped_at >= (${fromDate}::date::timestamp AT TIME ZONE 'Asia/Shanghai')
      AND tapped_at < (${toDate}::date::timestamp AT TIME ZONE 'Asia/Shanghai')
    GROUP BY 1, 2 ORDER BY 1, 2`.execute(db);
  return rows.map((r) => ({
    serviceDate: r.service_date,
    routeId: r.route_id,
    boardings: r.boardings,
    taps: r.taps,
  }));
}

/** Upserts volume_daily rows and deletes others (the recompute's corrections of the rows that differ). */
export async function writeVolumeDaily(
  db: Db,
  rows: readonly VolumeDailyRow[],
  gone: readonly { serviceDate: string; routeId: string }[],
): Promise<void> {
  if (gone.length > 0)
    await sql`
      DELETE FROM volume_daily v
      USING unnest(${gone.map((g) => g.serviceDate)}::date[], ${gone.map((g) => g.routeId)}::text[]) AS g(d, r)
      WHERE v.service_date = g.d AND v.route_id = g.r`.execute(db);
  if (rows.length > 0)
    await sql`
      INSERT INTO volume_daily (service_date, route_id, boardings, taps)
      SELECT * FROM unnest(${rows.map((r) => r.serviceDate)}::date[], ${rows.map((r) => r.routeId)}::text[],
                           ${rows.map((r) => r.boardings)}::int[], ${rows.map((r) => r.taps)}::int[])
      ON CONFLICT (service_date, route_id) DO UPDATE SET
        boardings = excluded.boardings, taps = excluded.taps, updated_at = now()`.execute(db);
}

/** Replaces volume_daily for Shanghai dates in [fromDate, toDate) by the sums of the stored judgements. */
export async function rebuildVolumeDaily(db: Db, fromDate: string, toDate: string): Promise<void> {
  await sql`DELETE FROM volume_daily WHERE service_date >= ${fromDate}::date AND service_date < ${toDate}::date`.execute(
    db,
  );
  await sql`
    INSERT INTO volume_daily (service_date, route_id, boardings, taps)
    SELECT (tapped_at AT TIME ZONE 'Asia/Shanghai')::date, route_id, count(*) FILTER (WHERE boarding)::int, count(*)::int
    FROM tap_boardings
    WHERE tapped_at >= (${fromDate}::date::timestamp AT TIME ZONE 'Asia/Shanghai')
      AND tapped_at < (${toDate}::date::timestamp AT TIME ZONE 'Asia/Shanghai')
    GROUP BY 1, 2`.execute(db);
}
