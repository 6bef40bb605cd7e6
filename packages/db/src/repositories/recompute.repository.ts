/**
 * The full recompute's rides phase (issue 4 §4), set-based in PostgreSQL: one statement per chunk of
 * persons loads their taps (R1), cuts them into rides (R4), judges the rides (R2, R3, R5, office
 * exclusions), and either writes the rides that differ from the stored ones (and deletes the stored
 * rides that are no longer derived) or lists the differences (`--check`). It is a second
 * implementation of what `services/aggregator/src/rederive.ts` does with the pure rules of
 * `@ridetally/domain`; the property tests of the aggregator prove the two equal.
 *
 * How R4 is cut set-based. A person's taps in (ms, tap id) order are split into *segments* at every
 * tap that starts a ride whatever came before (`startsRideRegardless`: another vehicle than the tap
 * before it, or at least a window after it). Within a segment all taps are on one vehicle and each
 * follows the one before by less than a window. A segment lasting less than a window is exactly one
 * ride. A longer segment is walked tap by tap (a recursive CTE, anchored at each ride's first tap, as
 * `groupRides` does); such segments are rare (a card tapped again and again on one bus).
 *
 * Which rides a recompute of [S, E) owns: every segment with a tap in [S, E) that starts before E
 * (a segment starting before S belongs to it whole: its rides before S are rewritten too, since its
 * taps in the period depend on them), and, as the engine does, the segment before the first one when
 * that one starts in the period after a change of vehicle. Rides starting at or after E are the next
 * period's. Taps are loaded over [S - margin, E + margin); a person whose first owned segment may
 * begin before the loaded window, or whose last owned segment may go on after it, is returned in
 * `uncertain` untouched, for the engine (which widens its window) to handle.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { DB } from '../types';
import { toPgInstant, type RideRow } from './aggregation.repository';

type Db = Kysely<DB> | Transaction<DB>;

/** The rule numbers the rides statement needs, per programme year (from the versioned rule book). */
export interface RideRulesOfYear {
  year: number;
  version: string;
  ratingWindowDays: number;
  eligibleEmployerTypes: readonly string[];
}

export interface RecomputeRidesInput {
  personIds: readonly string[];
  /** Loaded window [loadedFrom, loadedTo) and the period [periodFrom, periodTo), epoch ms. */
  loadedFromMs: number;
  loadedToMs: number;
  periodFromMs: number;
  periodToMs: number;
  /** R4 window. */
  rideGroupSeconds: number;
  /** One entry per Shanghai year a ride of the loaded window can fall in. */
  rules: readonly RideRulesOfYear[];
  /** Period labels compared in check mode (the period and, for a year, its quarters). */
  labels: readonly string[];
  /** R13 thresholds, as the engine applies them. */
  anomalyTwoVehiclesSeconds: number;
  anomalyMaxRidesPerDay: number;
  check: boolean;
}

/** A ride as the check lists it (stored or recomputed): the stored-ride shape. */
export type CheckedRide = RideRow;

export interface RideDifference {
  personId: string;
  firstTapId: number;
  recomputed: CheckedRide | null;
  stored: CheckedRide | null;
}

export interface CountDifference {
  personId: string;
  period: string;
  recomputed: { rides: number; lastMs: number | null } | null;
  stored: { rides: number; lastMs: number | null } | null;
}

export interface RecomputeRidesResult {
  /** Rides (and their taps) with their first tap in the period, as derived. */
  rides: number;
  taps: number;
  /** Persons left for the engine (their owned rides may reach beyond the loaded window). */
  uncertain: string[];
  /** (person, quarter) pairs whose counts must be rebuilt (write mode). */
  refresh: { personId: string; quarter: string }[];
  /** Check mode: differences, at most `limit` of each kind, and their total. */
  rideDifferences: RideDifference[];
  countDifferences: CountDifference[];
  differenceCount: number;
}

const LIST_LIMIT = 100;

/** The CTEs shared by the check and the write: `j` = the derived, judged rides; `rng` = the stored range per person. */
function derivedRides(input: RecomputeRidesInput): RawBuilder<unknown> {
  const lo = toPgInstant(input.loadedFromMs);
  const hi = toPgInstant(input.loadedToMs);
  const S = toPgInstant(input.periodFromMs);
  const E = toPgInstant(input.periodToMs);
  const W = sql`(${input.rideGroupSeconds * 1000}::float8 * interval '1 millisecond')`;
  const rules = input.rules;
  return sql`
    p AS (SELECT person_id FROM unnest(${[...new Set(input.personIds)]}::uuid[]) AS x(person_id)),
    yr AS (
      SELECT y.year, y.version, y.rating_ms, y.types::text[] AS types
      FROM unnest(${rules.map((r) => r.year)}::int[], ${rules.map((r) => r.version)}::text[],
                  ${rules.map((r) => r.ratingWindowDays * 86_400_000)}::float8[],
                  ${rules.map((r) => `{${r.eligibleEmployerTypes.join(',')}}`)}::text[]) AS y(year, version, rating_ms, types)),
    -- R1: the persons' taps in the loaded window, through the bindings valid at each tap's time
    t AS (
      SELECT b.person_id, x.tap_id, date_trunc('milliseconds', x.tapped_at) AS at, x.vehicle_id, x.route_id
      FROM p JOIN media_bindings b ON b.person_id = p.person_id AND b.valid && tstzrange(${lo}::timestamptz, ${hi}::timestamptz)
      JOIN taps x ON x.media_type = b.media_type AND x.media_key = b.media_key
       AND x.tapped_at >= ${lo}::timestamptz AND x.tapped_at < ${hi}::timestamptz -- prunes partitions when planning
       AND x.tapped_at >= greatest(lower(b.valid), ${lo}::timestamptz)
       AND x.tapped_at < least(coalesce(upper(b.valid), 'infinity'::timestamptz), ${hi}::timestamptz)),
    -- segment starts: 2 = at least a window after the tap before (or after the loaded start), 1 = another vehicle
    f AS (
      SELECT t.*,
             CASE WHEN lag(t.at) OVER w IS NULL THEN CASE WHEN t.at - ${lo}::timestamptz >= ${W} THEN 2 ELSE 0 END
                  WHEN t.at - lag(t.at) OVER w >= ${W} THEN 2
                  WHEN lag(t.vehicle_id) OVER w <> t.vehicle_id THEN 1 ELSE 0 END AS reset
      FROM t WINDOW w AS (PARTITION BY t.person_id ORDER BY t.at, t.tap_id)),
    s AS (SELECT f.*, sum((f.reset > 0)::int) OVER (PARTITION BY f.person_id ORDER BY f.at, f.tap_id) AS seg FROM f),
    g AS (
      SELECT s.*, row_number() OVER z AS rn, min(s.at) OVER z AS smin, max(s.at) OVER z AS smax,
             first_value(s.reset) OVER z AS sreset, first_value(s.tap_id) OVER z AS sfirst
      FROM s WINDOW z AS (PARTITION BY s.person_id, s.seg ORDER BY s.at, s.tap_id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)),
    segs AS (
      SELECT person_id, seg, smin, smax, sreset, sfirst, smax >= ${S}::timestamptz AND smin < ${E}::timestamptz AS core
      FROM g WHERE rn = 1),
    -- owned: the core segments, and the one before the first of them when that one starts in the period after a change of vehicle
    so AS (
      SELECT segs.*, max(seg) OVER (PARTITION BY person_id) AS lastseg,
             core OR (NOT core AND coalesce(lead(core) OVER w AND lead(smin) OVER w >= ${S}::timestamptz AND lead(sreset) OVER w = 1, false)) AS owned
      FROM segs WINDOW w AS (PARTITION BY person_id ORDER BY seg)),
    own AS (
      SELECT person_id, min(seg) FILTER (WHERE owned) AS from_seg, max(seg) FILTER (WHERE owned) AS lseg,
             bool_or(owned AND (seg = 0 OR (seg = lastseg AND ${hi}::timestamptz - smax < ${W}))) AS uncertain,
             least(min(smin) FILTER (WHERE owned), ${S}::timestamptz) AS lo_at,
             CASE WHEN min(smin) FILTER (WHERE owned) < ${S}::timestamptz THEN (array_agg(sfirst ORDER BY seg) FILTER (WHERE owned))[1] ELSE 0 END AS lo_id
      FROM so GROUP BY person_id HAVING bool_or(owned)),
    -- the stored range each (certain) person's recompute replaces: [lo, E) in (time, first tap id) order
    rng AS (
      SELECT p.person_id, coalesce(o.lo_at, ${S}::timestamptz) AS lo_at, coalesce(o.lo_id, 0) AS lo_id
      FROM p LEFT JOIN own o ON o.person_id = p.person_id WHERE NOT coalesce(o.uncertain, false)),
    k AS (
      SELECT g.person_id, g.tap_id, g.at, g.vehicle_id, g.route_id, g.seg, g.rn, g.smin, g.smax
      FROM g JOIN own o ON o.person_id = g.person_id AND NOT o.uncertain AND g.seg BETWEEN o.from_seg AND o.lseg),
    -- R4 within segments lasting a window or more: walk tap by tap, a ride starts at least a window after its first tap
    h AS (SELECT person_id, seg, rn, at FROM k WHERE smax - smin >= ${W}),
    walk(person_id, seg, rn, anchor) AS (
      SELECT person_id, seg, rn, at FROM h WHERE rn = 1
      UNION ALL
      SELECT h.person_id, h.seg, h.rn, CASE WHEN h.at - w.anchor >= ${W} THEN h.at ELSE w.anchor END
      FROM walk w JOIN h ON h.person_id = w.person_id AND h.seg = w.seg AND h.rn = w.rn + 1),
    kr AS (
      SELECT k.*, coalesce(w.anchor, k.smin) AS anchor, y.rating_ms
      FROM k LEFT JOIN walk w ON w.person_id = k.person_id AND w.seg = k.seg AND w.rn = k.rn
      JOIN yr y ON y.year = date_part('year', coalesce(w.anchor, k.smin) AT TIME ZONE 'Asia/Shanghai')::int),
    -- R5 per tap: a rating of the tap by the person within the window of its ride's time
    ra AS (
      SELECT g.tap_id, g.person_id, count(*) AS n, min(date_trunc('milliseconds', g.rated_at)) AS first,
             array_agg(date_trunc('milliseconds', g.rated_at)) AS times
      FROM ratings g JOIN p ON p.person_id = g.person_id WHERE g.rated_at >= ${lo}::timestamptz GROUP BY 1, 2),
    kt AS (
      SELECT kr.*,
             CASE WHEN ra.n IS NULL THEN false
                  WHEN ra.n = 1 THEN ra.first >= kr.anchor AND ra.first <= kr.anchor + kr.rating_ms * interval '1 millisecond'
                  ELSE EXISTS (SELECT 1 FROM unnest(ra.times) AS u(at)
                               WHERE u.at >= kr.anchor AND u.at <= kr.anchor + kr.rating_ms * interval '1 millisecond') END AS rated
      FROM kr LEFT JOIN ra ON ra.tap_id = kr.tap_id AND ra.person_id = kr.person_id
      WHERE kr.anchor < ${E}::timestamptz),
    rd AS (
      SELECT person_id, anchor AS at, array_agg(tap_id ORDER BY at, tap_id) AS tap_ids,
             (array_agg(route_id ORDER BY at, tap_id))[1] AS route_id, min(vehicle_id) AS vehicle_id, bool_or(rated) AS rated
      FROM kt GROUP BY person_id, seg, anchor),
    lab AS (
      SELECT rd.*, rd.tap_ids[1] AS first_tap_id, (rd.at AT TIME ZONE 'Asia/Shanghai') AS local_at,
             date_part('year', rd.at AT TIME ZONE 'Asia/Shanghai')::int AS y,
             date_part('year', rd.at AT TIME ZONE 'Asia/Shanghai')::int || '-Q' || date_part('quarter', rd.at AT TIME ZONE 'Asia/Shanghai')::int AS quarter
      FROM rd),
    -- R2, R3 at the ride's time (employments of a person never overlap: at most one matches); office
    -- exclusions of the ride's quarter or year (a ride exclusion names one of the ride's taps)
    em AS (
      SELECT m.person_id, m.in_service, c.type, c.city_area
      FROM employments m JOIN employers c ON c.code = m.employer_code JOIN p ON p.person_id = m.person_id),
    ex AS (
      SELECT x.person_id, array_agg(x.period) AS periods, array_agg(coalesce(x.tap_id, 0)) AS taps
      FROM exclusions x JOIN p ON p.person_id = x.person_id WHERE x.revoked_at IS NULL GROUP BY 1),
    j0 AS (
      SELECT lab.person_id, lab.first_tap_id, lab.at, lab.vehicle_id, lab.route_id, lab.tap_ids, lab.quarter, lab.y::text AS year,
             coalesce(r.is_city, false) AND coalesce(em.city_area AND em.type = ANY(yr.types), false) AS eligible, lab.rated,
             CASE WHEN ex.person_id IS NULL THEN false
                  ELSE EXISTS (SELECT 1 FROM unnest(ex.periods, ex.taps) AS u(period, tap_id)
                               WHERE u.period IN (lab.quarter, lab.y::text) AND (u.tap_id = 0 OR u.tap_id = ANY(lab.tap_ids))) END AS excluded,
             yr.version AS rules_version
      FROM lab JOIN yr ON yr.year = lab.y
      LEFT JOIN routes r ON r.route_id = lab.route_id
      LEFT JOIN em ON em.person_id = lab.person_id AND em.in_service @> lab.local_at::date
      LEFT JOIN ex ON ex.person_id = lab.person_id),
    j AS (SELECT j0.*, j0.eligible AND j0.rated AND NOT j0.excluded AS counted FROM j0),
    st AS (
      SELECT x.* FROM rides x JOIN rng ON rng.person_id = x.person_id
      WHERE (x.tapped_at, x.first_tap_id) >= (rng.lo_at, rng.lo_id) AND x.tapped_at < ${E}::timestamptz),
    unc AS (SELECT coalesce(json_agg(person_id), '[]') AS list FROM own WHERE uncertain),
    inp AS (SELECT count(*)::int AS rides, coalesce(sum(cardinality(tap_ids)), 0)::int AS taps FROM j WHERE at >= ${S}::timestamptz)`;
}

const RIDE_JSON = (alias: string) =>
  sql.raw(`
  json_build_array(${alias}.person_id, ${alias}.first_tap_id, floor(extract(epoch FROM ${alias}.tapped_at) * 1000)::float8,
                   ${alias}.vehicle_id, ${alias}.route_id, ${alias}.tap_ids, ${alias}.quarter, ${alias}.eligible, ${alias}.rated,
                   ${alias}.excluded, ${alias}.counted, ${alias}.rules_version)`);

type RideTuple = [
  string,
  number,
  number,
  string,
  string,
  number[],
  string,
  boolean,
  boolean,
  boolean,
  boolean,
  string,
];

function toCheckedRide(r: RideTuple | null): CheckedRide | null {
  if (!r) return null;
  return {
    personId: r[0],
    firstTapId: Number(r[1]),
    atMs: r[2],
    vehicleId: r[3],
    routeId: r[4],
    tapIds: r[5].map(Number),
    quarter: r[6],
    eligible: r[7],
    rated: r[8],
    excluded: r[9],
    counted: r[10],
    rulesVersion: r[11],
  };
}

/**
 * The rides phase of a recompute for one chunk of persons (see the file's doc). The caller holds the
 * persons' locks. Write mode changes only what differs and returns the (person, quarter) pairs whose
 * counts must be rebuilt; check mode writes nothing and returns the differences.
 */
export async function recomputeRidesChunk(db: Db, input: RecomputeRidesInput): Promise<RecomputeRidesResult> {
  if (input.personIds.length === 0)
    return {
      rides: 0,
      taps: 0,
      uncertain: [],
      refresh: [],
      rideDifferences: [],
      countDifferences: [],
      differenceCount: 0,
    };
  // Sorts and hashes of a whole period in memory; the planner cannot estimate the CTEs, and a nested
  // loop over two of them is quadratic: hash and merge joins only. No JIT: the disabled nested loops'
  // cost made PostgreSQL JIT-compile the statement, which took longer than running it.
  await sql`SET LOCAL work_mem = '128MB'`.execute(db);
  await sql`SET LOCAL enable_nestloop = off`.execute(db);
  await sql`SET LOCAL jit = off`.execute(db);
  try {
    return await ridesStatement(db, input);
  } finally {
    await sql`SET LOCAL enable_nestloop = on`.execute(db);
  }
}

async function ridesStatement(db: Db, input: RecomputeRidesInput): Promise<RecomputeRidesResult> {
  const S = toPgInstant(input.periodFromMs);
  const cte = derivedRides(input);
  if (input.check) {
    const { rows } = await sql<{
      rides: number;
      taps: number;
      uncertain: string[];
      ride_diffs: number;
      ride_list: [string, number, RideTuple | null, RideTuple | null][];
      count_diffs: number;
      count_list: [string, string, number | null, number | null, number | null, number | null][];
    }>`
      WITH RECURSIVE ${cte},
      dj AS (SELECT j.*, j.at AS tapped_at FROM j WHERE j.at >= ${S}::timestamptz),
      ds AS (SELECT st.* FROM st WHERE st.tapped_at >= ${S}::timestamptz),
      rdiff AS (
        SELECT coalesce(dj.person_id, ds.person_id) AS person_id, coalesce(dj.first_tap_id, ds.first_tap_id) AS first_tap_id,
               CASE WHEN dj.person_id IS NULL THEN NULL ELSE ${RIDE_JSON('dj')} END AS d,
               CASE WHEN ds.person_id IS NULL THEN NULL ELSE ${RIDE_JSON('ds')} END AS s
        FROM dj FULL JOIN ds ON ds.person_id = dj.person_id AND ds.first_tap_id = dj.first_tap_id
        WHERE dj.person_id IS NULL OR ds.person_id IS NULL
           OR (dj.at, dj.vehicle_id, dj.route_id, dj.tap_ids, dj.quarter, dj.eligible, dj.rated, dj.excluded, dj.counted, dj.rules_version)
              IS DISTINCT FROM
              (ds.tapped_at, ds.vehicle_id, ds.route_id, ds.tap_ids, ds.quarter, ds.eligible, ds.rated, ds.excluded, ds.counted, ds.rules_version)),
      dc AS (
        SELECT dj.person_id, l.label AS period, (count(*) FILTER (WHERE dj.counted))::int AS rides,
               floor(extract(epoch FROM max(dj.at) FILTER (WHERE dj.counted)) * 1000)::float8 AS last
        FROM dj CROSS JOIN LATERAL (VALUES (dj.quarter), (dj.year)) AS l(label)
        WHERE l.label = ANY(${input.labels}::text[]) GROUP BY 1, 2),
      sc AS (
        SELECT c.person_id, c.period, c.rides, floor(extract(epoch FROM c.last_counted_at) * 1000)::float8 AS last
        FROM person_period_counts c JOIN rng ON rng.person_id = c.person_id WHERE c.period = ANY(${input.labels}::text[])),
      cdiff AS (
        SELECT coalesce(dc.person_id, sc.person_id) AS person_id, coalesce(dc.period, sc.period) AS period,
               dc.person_id IS NOT NULL AS has_d, dc.rides AS d_rides, dc.last AS d_last,
               sc.person_id IS NOT NULL AS has_s, sc.rides AS s_rides, sc.last AS s_last
        FROM dc FULL JOIN sc ON sc.person_id = dc.person_id AND sc.period = dc.period
        WHERE (dc.rides, dc.last) IS DISTINCT FROM (sc.rides, sc.last) OR dc.person_id IS NULL OR sc.person_id IS NULL)
      SELECT inp.rides, inp.taps, unc.list AS uncertain,
             (SELECT count(*) FROM rdiff)::int AS ride_diffs,
             (SELECT coalesce(json_agg(json_build_array(person_id, first_tap_id, d, s) ORDER BY person_id, first_tap_id), '[]')
                FROM (SELECT * FROM rdiff ORDER BY person_id, first_tap_id LIMIT ${LIST_LIMIT}) z) AS ride_list,
             (SELECT count(*) FROM cdiff)::int AS count_diffs,
             (SELECT coalesce(json_agg(json_build_array(person_id, period,
                       CASE WHEN has_d THEN d_rides END, CASE WHEN has_d THEN d_last END,
                       CASE WHEN has_s THEN s_rides END, CASE WHEN has_s THEN s_last END) ORDER BY person_id, period), '[]')
                FROM (SELECT * FROM cdiff ORDER BY person_id, period LIMIT ${LIST_LIMIT}) z) AS count_list
      FROM inp, unc`.execute(db);
    const r = rows[0]!;
    return {
      rides: r.rides,
      taps: r.taps,
      uncertain: r.uncertain,
      refresh: [],
      rideDifferences: r.ride_list.map(([personId, firstTapId, d, s]) => ({
        personId,
        firstTapId: Number(firstTapId),
        recomputed: toCheckedRide(d),
        stored: toCheckedRide(s),
      })),
      countDifferences: r.count_list.map(([personId, period, dr, dl, sr, sl]) => ({
        personId,
        period,
        recomputed: dr === null ? null : { rides: dr, lastMs: dl },
        stored: sr === null ? null : { rides: sr, lastMs: sl },
      })),
      differenceCount: r.ride_diffs + r.count_diffs,
    };
  }

  const { rows } = await sql<{
    rides: number;
    taps: number;
    uncertain: string[];
    refresh: [string, string][];
  }>`
    WITH RECURSIVE ${cte},
    del AS (
      DELETE FROM rides x USING st
      WHERE x.person_id = st.person_id AND x.first_tap_id = st.first_tap_id
        AND NOT EXISTS (SELECT 1 FROM j WHERE j.person_id = st.person_id AND j.first_tap_id = st.first_tap_id)
      RETURNING x.person_id, x.quarter),
    ch AS (
      SELECT j.*, x.quarter AS old_quarter FROM j LEFT JOIN rides x ON x.person_id = j.person_id AND x.first_tap_id = j.first_tap_id
      WHERE x.person_id IS NULL
         OR (j.at, j.vehicle_id, j.route_id, j.tap_ids, j.quarter, j.eligible, j.rated, j.excluded, j.counted, j.rules_version)
            IS DISTINCT FROM
            (x.tapped_at, x.vehicle_id, x.route_id, x.tap_ids, x.quarter, x.eligible, x.rated, x.excluded, x.counted, x.rules_version)),
    ins AS (
      INSERT INTO rides (person_id, first_tap_id, tapped_at, vehicle_id, route_id, tap_ids, quarter, eligible, rated, counted, excluded, rules_version)
      SELECT person_id, first_tap_id, at, vehicle_id, route_id, tap_ids, quarter, eligible, rated, counted, excluded, rules_version FROM ch
      ON CONFLICT (person_id, first_tap_id) DO UPDATE SET
        tapped_at = excluded.tapped_at, vehicle_id = excluded.vehicle_id, route_id = excluded.route_id, tap_ids = excluded.tap_ids,
        quarter = excluded.quarter, eligible = excluded.eligible, rated = excluded.rated, counted = excluded.counted,
        excluded = excluded.excluded, rules_version = excluded.rules_version
      RETURNING 1),
    -- R13, as the engine records them: consecutive rides on two vehicles less than the threshold apart
    tv AS (
      SELECT j.person_id, j.quarter, j.first_tap_id, j.vehicle_id, j.at,
             lag(j.first_tap_id) OVER w AS prev_id, lag(j.vehicle_id) OVER w AS prev_vehicle, lag(j.at) OVER w AS prev_at,
             lag(j.quarter) OVER w AS prev_quarter
      FROM j WINDOW w AS (PARTITION BY j.person_id ORDER BY j.at, j.first_tap_id)),
    an AS (
      INSERT INTO anomalies AS a (kind, person_id, period, key, details)
      SELECT 'two_vehicles', person_id, prev_quarter, person_id || ':' || prev_id || ':' || first_tap_id,
             jsonb_build_object('firstTapIds', jsonb_build_array(prev_id, first_tap_id), 'vehicleIds', jsonb_build_array(prev_vehicle, vehicle_id),
                                'seconds', (extract(epoch FROM at - prev_at))::float8)
      FROM tv
      WHERE prev_id IS NOT NULL AND prev_vehicle <> vehicle_id
        AND at - prev_at < ${input.anomalyTwoVehiclesSeconds * 1000}::float8 * interval '1 millisecond'
      ON CONFLICT (kind, key) DO UPDATE SET details = excluded.details WHERE a.details IS DISTINCT FROM excluded.details
      RETURNING 1),
    touched AS (
      SELECT person_id, quarter FROM del
      UNION SELECT person_id, quarter FROM ch
      UNION SELECT person_id, old_quarter FROM ch WHERE old_quarter IS NOT NULL
      UNION SELECT person_id, q FROM (SELECT DISTINCT person_id FROM j UNION SELECT person_id FROM st
                                      UNION SELECT c.person_id FROM person_period_counts c JOIN rng ON rng.person_id = c.person_id
                                            WHERE c.period = ANY(${input.labels}::text[])) z
                                CROSS JOIN unnest(${input.labels.filter((l) => l.includes('-Q'))}::text[]) AS q)
    SELECT inp.rides, inp.taps, unc.list AS uncertain,
           (SELECT coalesce(json_agg(json_build_array(person_id, quarter)), '[]') FROM touched) AS refresh,
           (SELECT count(*) FROM ins)::int AS written, (SELECT count(*) FROM an)::int AS anomalies
    FROM inp, unc`.execute(db);
  const r = rows[0]!;
  const refresh = r.refresh.map(([personId, quarter]) => ({ personId, quarter }));
  if (refresh.length > 0) await recordBusyDays(db, refresh, input);
  return {
    rides: r.rides,
    taps: r.taps,
    uncertain: r.uncertain,
    refresh,
    rideDifferences: [],
    countDifferences: [],
    differenceCount: 0,
  };
}

/** R13: Shanghai days of the persons' rewritten range with more counted rides than allowed. */
async function recordBusyDays(
  db: Db,
  refresh: readonly { personId: string }[],
  input: RecomputeRidesInput,
): Promise<void> {
  const persons = [...new Set(refresh.map((r) => r.personId))];
  const DAY = 86_400_000;
  await sql`
    INSERT INTO anomalies AS a (kind, person_id, period, key, details)
    SELECT 'rides_per_day', person_id, quarter, person_id || ':' || date, jsonb_build_object('date', date, 'rides', rides)
    FROM (
      SELECT person_id, (tapped_at AT TIME ZONE 'Asia/Shanghai')::date::text AS date, min(quarter) AS quarter, count(*)::int AS rides
      FROM rides
      WHERE counted AND person_id = ANY(${persons}::uuid[])
        AND tapped_at >= ${toPgInstant(input.loadedFromMs)}::timestamptz AND tapped_at < ${toPgInstant(input.periodToMs + DAY)}::timestamptz
      GROUP BY 1, 2 HAVING count(*) > ${input.anomalyMaxRidesPerDay}::int) d
    ON CONFLICT (kind, key) DO UPDATE SET details = excluded.details WHERE a.details IS DISTINCT FROM excluded.details`.execute(
    db,
  );
}
