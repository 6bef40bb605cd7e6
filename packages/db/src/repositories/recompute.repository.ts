/**
 * What the full recompute (issue 4 §4) reads and writes, in bulk: a chunk's persons go into a
 * temporary table, and their taps (R1, through the bindings valid at each tap's time), ratings, stored
 * rides and counts, and one hash slice of the taps for R14, are streamed out (`BulkSession.rows`: COPY
 * on PostgreSQL). The rides and judgements that differ are written back with COPY into a temporary
 * table and one upsert. The rules themselves are not here: the recompute runs the pure rules of
 * `@ridetally/domain` on what these functions load, as the incremental worker does.
 *
 * The statements are streamed with COPY, which takes no parameters: every value spliced into them is
 * a number, an instant this module formats, or a period label checked against its pattern.
 */
import { sql, type Kysely } from 'kysely';
import type { DB } from '../types';
import { stringCache, type BulkSession, type RowCursor, type TextRow } from '../bulk';
import { deleteRides, replaceRideStretches, toPgInstant, type RideRow } from './aggregation.repository';
import { applyBoardingChangesWithDeltas, type BoardingChange, type VolumeDelta } from './volume.repository';

/** The last millisecond `epochMsSql` reads exactly (2^32 s after 1970). */
const EPOCH_MS_EXACT_UNTIL = 2 ** 32 * 1000;

/** An instant literal for a COPY statement. */
function instant(ms: number): string {
  if (!Number.isFinite(ms)) throw new Error(`recompute: finite instant expected, got ${ms}`);
  // The streams' bounds: what lies between them is read through epochMsSql, exact in this range.
  if (ms < 0 || ms > EPOCH_MS_EXACT_UNTIL)
    throw new Error(`recompute: instants from 1970 to 2106-02-07 only, got ${toPgInstant(ms)}`);
  return `'${toPgInstant(ms)}'::timestamptz`;
}

/**
 * Milliseconds since 1970 of a timestamptz column, floored, as int8, without `numeric`:
 * `extract(epoch …)` makes a numeric per row, which cost PostgreSQL 0.4 s per 2 M rows of a stream
 * (0.96 s against 0.57 s for a sum over the synthetic year). Exact for instants from 1970 to
 * 2106-02-07 (below 2^32 s): `date_part` divides the exact µs count (an int64, below 2^53) by 10^6
 * correctly rounded, to within half an ulp of a quotient below 2^32, 0.24 µs once scaled back; the
 * float8 product by 10^6 adds at most half an ulp of its own, 0.25 µs; so `round` gives the count
 * back exactly, and the int8 division floors it (it truncates, and the count is not negative).
 * Checked against the numeric formula around every millisecond boundary in `epoch-ms.int.test.ts`.
 */
export const epochMsSql = (column: string) => `(round(date_part('epoch', ${column}) * 1000000)::int8 / 1000)`;

/**
 * Puts the chunk's persons (distinct ids) into `rc_persons` (dropped at commit) for the statements
 * below, with COPY where there is one: tens of thousands of ids as one array parameter cost more to
 * send and parse than the statements that use them.
 */
export async function setRecomputePersons(s: BulkSession, personIds: readonly string[]): Promise<void> {
  await sql`CREATE TEMP TABLE IF NOT EXISTS rc_persons (person_id uuid PRIMARY KEY) ON COMMIT DROP`.execute(
    s.db,
  );
  await sql`TRUNCATE rc_persons`.execute(s.db);
  const ids = [...new Set(personIds)];
  if (s.copyIn)
    await s.copyIn(
      'rc_persons',
      ['person_id'],
      ids.map((p) => [p]),
    );
  else await sql`INSERT INTO rc_persons SELECT unnest(${ids}::uuid[])`.execute(s.db);
  await sql`ANALYZE rc_persons`.execute(s.db);
}

/**
 * One snapshot for the rest of the transaction (REPEATABLE READ), for a reading session that takes no
 * lock and reads in several statements what must agree. First in its transaction.
 */
export async function readOneSnapshot(s: BulkSession): Promise<void> {
  await sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`.execute(s.db);
}

/**
 * Sorts and hashes of a whole period in memory; no JIT (compiling costs more than it saves here); no
 * parallel workers: the two phases already keep two backends and Node busy, and on the 2-core machine
 * the workers' start and gather cost more than they gave (the synthetic year: 2.7–3.5 s without,
 * 3.1–3.6 s with, in the same run).
 */
export async function tuneRecomputeSession(s: BulkSession): Promise<void> {
  await sql`SET LOCAL work_mem = '256MB'`.execute(s.db);
  await sql`SET LOCAL jit = off`.execute(s.db);
  await sql`SET LOCAL max_parallel_workers_per_gather = 0`.execute(s.db);
}

/**
 * One string per person id across a stream: a person's id comes back on each of their rows, and each
 * copy would be a slice holding on to the whole received chunk it was cut from. A person's rows mostly
 * come together: the column is compared with the last id in place first, and no string is made.
 */
function personIds(): (r: RowCursor, k: number) => string {
  const seen = new Map<string, string>();
  let last = '';
  return (r, k) => {
    if (r.eq(k, last)) return last;
    const id = r.str(k)!;
    let v = seen.get(id);
    if (v === undefined) {
      v = Buffer.from(id, 'latin1').toString('latin1');
      seen.set(v, v);
    }
    return (last = v);
  };
}

/**
 * The chunk's persons' taps in [from, to) (R1), ordered by person, then (ms, tap id). Positional: no
 * object per row, and one string per vehicle and per route.
 */
export async function streamPersonsTaps(
  s: BulkSession,
  fromMs: number,
  toMs: number,
  fn: (personId: string, tapId: number, at: number, vehicleId: string, routeId: string) => void,
): Promise<void> {
  const person = personIds();
  const vehicles = stringCache();
  const routes = stringCache();
  const lo = instant(fromMs);
  const hi = instant(toMs);
  await s.rows(
    `SELECT b.person_id, x.tap_id, ${epochMsSql('x.tapped_at')} AS at, x.vehicle_id, x.route_id
     FROM rc_persons p JOIN media_bindings b ON b.person_id = p.person_id AND b.valid && tstzrange(${lo}, ${hi})
     JOIN taps x ON x.media_type = b.media_type AND x.media_key = b.media_key
      AND x.tapped_at >= ${lo} AND x.tapped_at < ${hi}
      AND x.tapped_at >= greatest(lower(b.valid), ${lo}) AND x.tapped_at < least(coalesce(upper(b.valid), 'infinity'::timestamptz), ${hi})
     ORDER BY 1, 3, 2`,
    (r) => fn(person(r, 0), r.int(1), r.int(2), r.shared(3, vehicles), r.shared(4, routes)),
  );
}

/**
 * Ratings by the chunk's persons made from `fromMs` on (a rating follows its ride). A stream of its
 * own: joined to the taps above, the ratings cost PostgreSQL more than twice their own scan (a hash
 * of all the taps, without parallel workers: 1.5–1.9 s against 1.0 + 0.25 s for the synthetic year).
 */
export async function streamPersonsRatings(
  s: BulkSession,
  fromMs: number,
  fn: (personId: string, tapId: number, ratedAtMs: number) => void,
): Promise<void> {
  const person = personIds();
  await s.rows(
    `SELECT r.person_id, r.tap_id, ${epochMsSql('r.rated_at')} AS rated
     FROM ratings r JOIN rc_persons p ON p.person_id = r.person_id WHERE r.rated_at >= ${instant(fromMs)}`,
    (r) => fn(person(r, 0), r.int(1), r.int(2)),
  );
}

/**
 * A stored ride on the stream: its key and time read where they lie; its content compared with a
 * ride in place, or read whole, only when asked (most rides of a recompute are found unchanged).
 */
export interface StoredRideCursor {
  personId(): string;
  firstTapId(): number;
  atMs(): number;
  /** The same stored content as `r` (the key aside). */
  same(r: RideRow): boolean;
  row(): RideRow;
}

/** The chunk's persons' stored rides with their first tap in [from, to). */
export async function streamPersonsStoredRides(
  s: BulkSession,
  fromMs: number,
  toMs: number,
  fn: (c: StoredRideCursor) => void,
): Promise<void> {
  const person = personIds();
  let r!: RowCursor;
  const cursor: StoredRideCursor = {
    personId: () => person(r, 0),
    firstTapId: () => r.int(1),
    atMs: () => r.int(2),
    same: (x) =>
      r.int(2) === x.atMs &&
      r.eq(3, x.vehicleId) &&
      r.eq(4, x.routeId) &&
      r.intsEq(5, x.tapIds) &&
      r.eq(6, x.quarter) &&
      r.int(7) === Number(x.eligible) &&
      r.int(8) === Number(x.rated) &&
      r.int(9) === Number(x.counted) &&
      r.int(10) === Number(x.excluded) &&
      r.eq(11, x.rulesVersion),
    row: () => ({
      personId: cursor.personId(),
      firstTapId: r.int(1),
      atMs: r.int(2),
      vehicleId: r.str(3)!,
      routeId: r.str(4)!,
      tapIds: r.ints(5),
      quarter: r.str(6)!,
      eligible: r.int(7) === 1,
      rated: r.int(8) === 1,
      counted: r.int(9) === 1,
      excluded: r.int(10) === 1,
      rulesVersion: r.str(11)!,
    }),
  };
  await s.rows(
    `SELECT x.person_id, x.first_tap_id, ${epochMsSql('x.tapped_at')} AS at, x.vehicle_id, x.route_id,
            array_to_string(x.tap_ids, ',') AS tap_ids, x.quarter, x.eligible::int AS e, x.rated::int AS r,
            x.counted::int AS c, x.excluded::int AS x, x.rules_version
     FROM rides x JOIN rc_persons p ON p.person_id = x.person_id
     WHERE x.tapped_at >= ${instant(fromMs)} AND x.tapped_at < ${instant(toMs)}`,
    (row) => {
      r = row;
      fn(cursor);
    },
  );
}

const PERIOD_LABEL = /^\d{4}(-Q[1-4])?$/;

/** The chunk's persons' stored counts of the periods. */
export async function streamPersonsCounts(
  s: BulkSession,
  labels: readonly string[],
  fn: (personId: string, period: string, rides: number, lastMs: number | null, rulesVersion: string) => void,
): Promise<void> {
  for (const l of labels) if (!PERIOD_LABEL.test(l)) throw new Error(`recompute: bad period label ${l}`);
  if (labels.length === 0) return;
  await s.rows(
    `SELECT c.person_id, c.period, c.rides, ${epochMsSql('c.last_counted_at')} AS last, c.rules_version
     FROM person_period_counts c JOIN rc_persons p ON p.person_id = c.person_id
     WHERE c.period IN (${labels.map((l) => `'${l}'`).join(', ')})`,
    (r) => fn(r.str(0)!, r.str(1)!, r.int(2), r.isNull(3) ? null : r.int(3), r.str(4)!),
  );
}

/** Refreshes the planner's statistics of the tables a recompute writes. */
export async function analyzeRecomputedTables(db: Kysely<DB>): Promise<void> {
  await sql`ANALYZE rides, tap_boardings, person_period_counts, volume_daily`.execute(db);
}

/** A tap of the volume stream: its key, and its stored judgement (null when not judged yet). */
export type VolumeSliceTapFn = (
  mediaType: string,
  mediaKey: string,
  vehicleId: string,
  tapId: number,
  at: number,
  routeId: string,
  stored: boolean | null,
) => void;

/** Where the volume stream finds each tap's stored judgement. */
export type StoredJudgementSource =
  /** Joined to the taps by PostgreSQL (a hash of the period's judgements; the general case). */
  | { kind: 'join' }
  /** Looked up by the caller, from `streamStoredJudgements` read just before (no join). */
  | { kind: 'lookup'; get: (tapId: number) => boolean | null };

/** Stored judgements are read a second either side of the taps' range (as the join reads them). */
const JUDGEMENT_SLACK = `interval '1 second'`;

/**
 * The stored judgements of the taps in [from, to), in no order: what the volume stream's join would
 * find, read on its own. A hash join of the two in PostgreSQL cost more than twice the taps' own
 * stream (the bench's default year: 4.9 s against 2.9 s), this scan 0.6 s.
 */
export async function streamStoredJudgements(
  s: BulkSession,
  fromMs: number,
  toMs: number,
  fn: (tapId: number, boarding: boolean) => void,
): Promise<void> {
  await s.rows(
    `SELECT tap_id, boarding::int FROM tap_boardings
     WHERE tapped_at >= ${instant(fromMs)} - ${JUDGEMENT_SLACK} AND tapped_at < ${instant(toMs)} + ${JUDGEMENT_SLACK}`,
    (r) => fn(r.int(0), r.int(1) === 1),
  );
}

/**
 * One hash slice (of `slices`) of the taps in [from, to) with their stored judgements, each key's taps
 * together in (ms, tap id) order. Keys come in the order of their hashes, both in one int8: an integer
 * sorts several times faster than text (and one key faster than two: 0.74 s against 0.99 s for the
 * synthetic year), and the text compares only on equal hashes. Positional: no object per row.
 */
export async function streamVolumeSlice(
  s: BulkSession,
  fromMs: number,
  toMs: number,
  slice: number,
  slices: number,
  stored: StoredJudgementSource,
  fn: VolumeSliceTapFn,
): Promise<void> {
  if (!Number.isInteger(slice) || !Number.isInteger(slices))
    throw new Error('recompute: integer slices expected');
  const lo = instant(fromMs);
  const hi = instant(toMs);
  const join = stored.kind === 'join';
  const get = stored.kind === 'lookup' ? stored.get : () => null;
  const vehicles = stringCache();
  const routes = stringCache();
  let key = '';
  let type = '';
  let medium = '';
  let vehicle = '';
  await s.rows(
    `SELECT t.media_type, t.media_key, t.vehicle_id, t.tap_id, ${epochMsSql('t.tapped_at')} AS at, t.route_id
            ${join ? ', CASE WHEN b.boarding THEN 1 WHEN NOT b.boarding THEN 0 END AS stored' : ''}
     FROM taps t ${
       join
         ? `LEFT JOIN tap_boardings b ON b.tap_id = t.tap_id
       AND b.tapped_at >= ${lo} - ${JUDGEMENT_SLACK} AND b.tapped_at < ${hi} + ${JUDGEMENT_SLACK}`
         : ''
     }
     WHERE t.tapped_at >= ${lo} AND t.tapped_at < ${hi}
       ${slices > 1 ? `AND (hashtext(t.media_key) & 2147483647) % ${slices} = ${slice}` : ''}
     ORDER BY (hashtext(t.media_key)::int8 << 32) | (hashtext(t.vehicle_id)::int8 & 4294967295), t.media_key, t.vehicle_id, t.media_type, at, t.tap_id`,
    (r) => {
      // A key's rows come together: its strings are made once, and the same strings are passed again
      // while it lasts (the caller's key comparisons are then of identical strings). Vehicles, types
      // and routes are few: one string each.
      if (!r.spanEq(0, 2, key)) {
        key = r.span(0, 2);
        type = r.shared(0, vehicles);
        medium = r.str(1)!;
        vehicle = r.shared(2, vehicles);
      }
      const tapId = r.int(3);
      fn(
        type,
        medium,
        vehicle,
        tapId,
        r.int(4),
        r.shared(5, routes),
        join ? (r.isNull(6) ? null : r.int(6) === 1) : get(tapId),
      );
    },
  );
}

const RIDE_COLUMNS = [
  'person_id',
  'first_tap_id',
  'tapped_at',
  'vehicle_id',
  'route_id',
  'tap_ids',
  'quarter',
  'eligible',
  'rated',
  'counted',
  'excluded',
  'rules_version',
] as const;

const bool = (b: boolean) => (b ? 't' : 'f');

/** COPY straight into a table under a savepoint; false (and nothing written) on a unique violation. */
async function copyFresh(
  s: BulkSession,
  table: string,
  columns: readonly string[],
  rows: Iterable<TextRow>,
): Promise<boolean> {
  await sql`SAVEPOINT rc_copy`.execute(s.db);
  try {
    await s.copyIn!(table, columns, rows);
  } catch (e) {
    if ((e as { code?: string }).code !== '23505') throw e;
    await sql`ROLLBACK TO SAVEPOINT rc_copy`.execute(s.db);
    return false;
  }
  await sql`RELEASE SAVEPOINT rc_copy`.execute(s.db);
  return true;
}

/**
 * Writes rides: `replaced` (those of them with a stored version) are deleted first, then all are
 * copied in. Should a key still collide (a stored ride outside what the recompute read), the rides
 * are upserted instead. Returns their (person, quarter) pairs.
 */
export async function writeRides(
  s: BulkSession,
  rides: readonly RideRow[],
  replaced: readonly RideRow[],
): Promise<{ personId: string; quarter: string }[]> {
  if (rides.length === 0) return [];
  if (!s.copyIn) return replaceRideStretches(s.db, [], rides);
  const touched = await deleteRides(s.db, replaced);
  const copied = await copyFresh(
    s,
    'rides',
    RIDE_COLUMNS,
    (function* () {
      for (const r of rides)
        yield [
          r.personId,
          String(r.firstTapId),
          toPgInstant(r.atMs),
          r.vehicleId,
          r.routeId,
          `{${r.tapIds.join(',')}}`,
          r.quarter,
          bool(r.eligible),
          bool(r.rated),
          bool(r.counted),
          bool(r.excluded),
          r.rulesVersion,
        ];
    })(),
  );
  if (!copied) return [...touched, ...(await replaceRideStretches(s.db, [], rides))];
  const pairs = new Map<string, { personId: string; quarter: string }>();
  for (const r of [...touched, ...rides])
    pairs.set(`${r.personId}|${r.quarter}`, { personId: r.personId, quarter: r.quarter });
  return [...pairs.values()];
}

/**
 * Writes changed R14 judgements (`previous !== boarding`) and applies their exact deltas to
 * volume_daily, as `applyBoardingChanges` does. Taps judged for the first time are copied in.
 */
export async function writeBoardingChanges(
  s: BulkSession,
  changes: readonly BoardingChange[],
): Promise<void> {
  const changed = changes.filter((c) => c.previous !== c.boarding);
  if (changed.length === 0) return;
  if (!s.copyIn) return applyBoardingChangesWithDeltas(s.db, changed, []);
  const fresh = changed.filter((c) => c.previous === null);
  const copied =
    fresh.length > 0 &&
    (await copyFresh(
      s,
      'tap_boardings',
      ['tap_id', 'tapped_at', 'route_id', 'boarding'],
      (function* () {
        for (const c of fresh) yield [String(c.tapId), toPgInstant(c.atMs), c.routeId, bool(c.boarding)];
      })(),
    ));
  if (!copied) return applyBoardingChangesWithDeltas(s.db, changed, []);
  const deltas = new Map<string, VolumeDelta>();
  for (const c of fresh) {
    const k = `${c.serviceDate}|${c.routeId}`;
    const d = deltas.get(k) ?? { serviceDate: c.serviceDate, routeId: c.routeId, boardings: 0, taps: 0 };
    d.boardings += c.boarding ? 1 : 0;
    d.taps += 1;
    deltas.set(k, d);
  }
  await applyBoardingChangesWithDeltas(
    s.db,
    changed.filter((c) => c.previous !== null),
    [...deltas.values()],
  );
}
