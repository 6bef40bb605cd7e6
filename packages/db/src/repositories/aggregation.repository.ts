/**
 * What the aggregator reads and writes to re-derive a person's rides (R1-R6): taps by person over
 * time windows (R1 through media_bindings), the facts that judge rides, stored ride starts, and the
 * replacement of a stretch of rides. Set-based: every function takes many persons at once.
 * Instants travel as epoch milliseconds; ±Infinity stands for an unbounded end.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

/** A timestamptz literal for an epoch-ms bound (±Infinity → ±infinity). */
export function toPgInstant(ms: number): string {
  if (ms === Infinity) return 'infinity';
  if (ms === -Infinity) return '-infinity';
  return new Date(ms).toISOString();
}

export interface PersonRange {
  personId: string;
  fromMs: number;
  toMs: number;
}

export interface LoadedPersonTap {
  personId: string;
  tapId: number;
  at: number;
  vehicleId: string;
  routeId: string;
}

/** The earliest and latest tap instants of batches (epoch ms, floored), ±Infinity when unknown. */
export interface BatchBounds {
  fromMs: number;
  toMs: number;
}

/**
 * The batches' tap span as values: passed to the statements as parameters, they let PostgreSQL prune
 * the monthly `taps` partitions when planning (a bound from a subquery prunes only when executing,
 * after planning every partition: ~70 partitions made planning cost more than running).
 */
export async function findBatchBounds(db: Db, batchIds: readonly number[]): Promise<BatchBounds> {
  const { rows } = await sql<{ lo: number | null; hi: number | null }>`
    SELECT floor(extract(epoch FROM min(min_tapped_at)) * 1000)::float8 AS lo, floor(extract(epoch FROM max(max_tapped_at)) * 1000)::float8 AS hi
    FROM ingest_batches WHERE batch_id = ANY(${batchIds}::bigint[])`.execute(db);
  const r = rows[0];
  return { fromMs: r?.lo ?? -Infinity, toMs: r?.hi ?? Infinity };
}

/** Persons whose media tapped in the batches (R1 at each tap's time), with the span of their taps; the batches' span passed as values (plan-time partition pruning). */
export async function findBatchPersonRangesIn(
  db: Db,
  batchIds: readonly number[],
  bounds: BatchBounds,
): Promise<PersonRange[]> {
  const { rows } = await sql<{ person_id: string; from_ms: number; to_ms: number }>`
    SELECT b.person_id,
           floor(extract(epoch FROM min(t.tapped_at)) * 1000)::float8 AS from_ms,
           floor(extract(epoch FROM max(t.tapped_at)) * 1000)::float8 AS to_ms
    FROM taps t
    JOIN media_bindings b ON b.media_type = t.media_type AND b.media_key = t.media_key AND b.valid @> t.tapped_at
    WHERE t.batch_id = ANY(${batchIds}::bigint[])
      AND t.tapped_at >= ${toPgInstant(bounds.fromMs)}::timestamptz AND t.tapped_at < ${toPgInstant(bounds.toMs + 1)}::timestamptz
    GROUP BY b.person_id`.execute(db);
  return rows.map((r) => ({ personId: r.person_id, fromMs: r.from_ms, toMs: r.to_ms }));
}

/**
 * Serialises work on the same persons across workers (hashed buckets of their ids' text, taken in
 * order: no deadlock). `'rc_persons'`: the recompute's chunk (see `PersonSet`).
 */
export async function lockPersonBuckets(db: Db, personIds: PersonSet): Promise<void> {
  if (personIds.length === 0) return;
  const ids =
    personIds === 'rc_persons'
      ? sql`SELECT person_id::text AS p FROM rc_persons`
      : sql`SELECT unnest(${personIds}::text[]) AS p`;
  await sql`
    SELECT pg_advisory_xact_lock(74120, s.b)
    FROM (SELECT DISTINCT hashtext(x.p) & 1023 AS b FROM (${ids}) x ORDER BY 1) s`.execute(db);
}

/**
 * Each person's taps in [from, to) (R1), ordered by person, time, tap id. Rows travel as one row of
 * arrays per person: building a JS object per tap row was the recompute's main cost.
 */
export async function findPersonsTapsInRanges(
  db: Db,
  ranges: readonly PersonRange[],
): Promise<LoadedPersonTap[]> {
  if (ranges.length === 0) return [];
  const span = spanOf(ranges);
  const { rows } = await sql<{
    person_id: string;
    ids: number[];
    ats: number[];
    vehicles: string[];
    routes: string[];
  }>`
    SELECT r.person_id,
           array_agg(t.tap_id ORDER BY t.tapped_at, t.tap_id) AS ids,
           array_agg(floor(extract(epoch FROM t.tapped_at) * 1000)::float8 ORDER BY t.tapped_at, t.tap_id) AS ats,
           array_agg(t.vehicle_id ORDER BY t.tapped_at, t.tap_id) AS vehicles,
           array_agg(t.route_id ORDER BY t.tapped_at, t.tap_id) AS routes
    FROM unnest(${ranges.map((r) => r.personId)}::uuid[], ${ranges.map((r) => toPgInstant(r.fromMs))}::timestamptz[],
                ${ranges.map((r) => toPgInstant(r.toMs))}::timestamptz[]) AS r(person_id, lo, hi)
    JOIN media_bindings b ON b.person_id = r.person_id AND b.valid && tstzrange(r.lo, r.hi)
    CROSS JOIN LATERAL (
      SELECT t.tap_id, t.tapped_at, t.vehicle_id, t.route_id FROM taps t
      WHERE t.media_type = b.media_type AND t.media_key = b.media_key
        AND t.tapped_at >= greatest(lower(b.valid), r.lo)
        AND t.tapped_at < least(coalesce(upper(b.valid), 'infinity'::timestamptz), r.hi)
        AND t.tapped_at >= ${span.lo}::timestamptz AND t.tapped_at < ${span.hi}::timestamptz
      OFFSET 0) t
    GROUP BY r.person_id
    ORDER BY r.person_id`.execute(db);
  const out: LoadedPersonTap[] = [];
  for (const r of rows) {
    for (let i = 0; i < r.ids.length; i++) {
      out.push({
        personId: r.person_id,
        tapId: Number(r.ids[i]),
        at: Number(r.ats[i]),
        vehicleId: r.vehicles[i]!,
        routeId: r.routes[i]!,
      });
    }
  }
  return out;
}

/**
 * The union of the ranges as timestamptz parameters: repeated next to the per-range bounds, they let
 * PostgreSQL prune the monthly partitions of `taps` when planning instead of planning all of them.
 */
export function spanOf(ranges: readonly { fromMs: number; toMs: number }[]): { lo: string; hi: string } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of ranges) {
    if (r.fromMs < lo) lo = r.fromMs;
    if (r.toMs > hi) hi = r.toMs;
  }
  return { lo: toPgInstant(lo), hi: toPgInstant(hi) };
}

/** First tap ids of the stored rides of each person in [from, to). */
export async function findStoredRideStarts(
  db: Db,
  ranges: readonly PersonRange[],
): Promise<{ personId: string; firstTapId: number }[]> {
  if (ranges.length === 0) return [];
  const { rows } = await sql<{ person_id: string; first_tap_id: number }>`
    SELECT x.person_id, x.first_tap_id
    FROM unnest(${ranges.map((r) => r.personId)}::uuid[], ${ranges.map((r) => toPgInstant(r.fromMs))}::timestamptz[],
                ${ranges.map((r) => toPgInstant(r.toMs))}::timestamptz[]) AS r(person_id, lo, hi)
    JOIN rides x ON x.person_id = r.person_id AND x.tapped_at >= r.lo AND x.tapped_at < r.hi`.execute(db);
  return rows.map((r) => ({ personId: r.person_id, firstTapId: r.first_tap_id }));
}

export interface EmploymentFactRow {
  personId: string;
  fromDate: string;
  toDateExclusive: string | null;
  employerType: 'agency' | 'institution' | 'soe' | 'other';
  employerCityArea: boolean;
}

/**
 * The persons a fact query or a lock is for: their ids, or `'rc_persons'`: everyone in the
 * recompute's table of its chunk (set by `setRecomputePersons` in the same transaction), which spares
 * sending and parsing tens of thousands of ids once more.
 */
export type PersonSet = readonly string[] | 'rc_persons';

function personIn(column: string, persons: PersonSet) {
  return persons === 'rc_persons'
    ? sql<boolean>`${sql.ref(column)} IN (SELECT person_id FROM rc_persons)`
    : sql<boolean>`${sql.ref(column)} = ANY(${persons}::uuid[])`;
}

/** In-service intervals (R2) of the persons, with their employers' type and city-area flag. */
export async function findEmploymentFacts(db: Db, personIds: PersonSet): Promise<EmploymentFactRow[]> {
  if (personIds.length === 0) return [];
  const { rows } = await sql<{
    person_id: string;
    from_date: string | null;
    to_date: string | null;
    type: EmploymentFactRow['employerType'];
    city_area: boolean;
  }>`
    SELECT e.person_id, lower(e.in_service) AS from_date, upper(e.in_service) AS to_date, r.type, r.city_area
    FROM employments e JOIN employers r ON r.code = e.employer_code
    WHERE ${personIn('e.person_id', personIds)}`.execute(db);
  return rows.map((r) => ({
    personId: r.person_id,
    fromDate: r.from_date ?? '0000-01-01',
    toDateExclusive: r.to_date,
    employerType: r.type,
    employerCityArea: r.city_area,
  }));
}

export interface ExclusionFactRow {
  personId: string;
  period: string;
  tapId: number | null;
}

/** Office exclusions in force (not revoked) for the persons. */
export async function findExclusionFacts(db: Db, personIds: PersonSet): Promise<ExclusionFactRow[]> {
  if (personIds.length === 0) return [];
  const rows = await db
    .selectFrom('exclusions')
    .select(['person_id', 'period', 'tap_id'])
    .where(personIn('person_id', personIds))
    .where('revoked_at', 'is', null)
    .execute();
  return rows.map((r) => ({ personId: r.person_id, period: r.period, tapId: r.tap_id }));
}

export interface RatingFactRow {
  ratingId: number;
  personId: string;
  tapId: number;
  ratedAtMs: number;
}

/** Ratings naming any of the taps (a join, not `= ANY`: the recompute passes hundreds of thousands of ids). */
export async function findRatingsOfTaps(db: Db, tapIds: readonly number[]): Promise<RatingFactRow[]> {
  if (tapIds.length === 0) return [];
  const { rows } = await sql<{ rating_id: number; person_id: string; tap_id: number; rated_ms: number }>`
    SELECT r.rating_id, r.person_id, r.tap_id, floor(extract(epoch FROM r.rated_at) * 1000)::float8 AS rated_ms
    FROM unnest(${tapIds}::bigint[]) AS k(tap_id) JOIN ratings r ON r.tap_id = k.tap_id`.execute(db);
  return rows.map((r) => ({
    ratingId: r.rating_id,
    personId: r.person_id,
    tapId: r.tap_id,
    ratedAtMs: r.rated_ms,
  }));
}

export interface RatingRefRow {
  ratingId: number;
  personId: string;
  tapId: number;
  tapAtMs: number | null;
}

/** Ratings with the time of the tap each names (null when that tap is unknown), in rating id order; unknown ids are left out. */
export async function findRatingRefs(db: Db, ratingIds: readonly number[]): Promise<RatingRefRow[]> {
  if (ratingIds.length === 0) return [];
  const { rows } = await sql<{ rating_id: number; person_id: string; tap_id: number; at: number | null }>`
    SELECT r.rating_id, r.person_id, r.tap_id, floor(extract(epoch FROM k.tapped_at) * 1000)::float8 AS at
    FROM ratings r LEFT JOIN tap_keys k ON k.tap_id = r.tap_id
    WHERE r.rating_id = ANY(${ratingIds}::bigint[])
    ORDER BY r.rating_id`.execute(db);
  return rows.map((r) => ({ ratingId: r.rating_id, personId: r.person_id, tapId: r.tap_id, tapAtMs: r.at }));
}

/** Route ids flagged city-area (R3). */
export async function findCityRouteIds(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('routes').select('route_id').where('is_city', '=', true).execute();
  return rows.map((r) => r.route_id);
}

/** Rules stored per programme year (programme_years → rules_versions). */
export async function findProgrammeRules(
  db: Db,
): Promise<{ year: number; version: string; rules: unknown }[]> {
  const rows = await db
    .selectFrom('programme_years as y')
    .innerJoin('rules_versions as v', 'v.version', 'y.rules_version')
    .select(['y.year', 'v.version', 'v.rules'])
    .execute();
  return rows.map((r) => ({ year: r.year, version: r.version, rules: r.rules }));
}

/** Persons with an employment at the employer (any time). */
export async function findEmployerPersonIds(db: Db, code: string): Promise<string[]> {
  const rows = await db
    .selectFrom('employments')
    .select('person_id')
    .distinct()
    .where('employer_code', '=', code)
    .execute();
  return rows.map((r) => r.person_id);
}

/** Persons with a stored ride whose first tap is on the route. */
export async function findRoutePersonIds(db: Db, routeId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('rides')
    .select('person_id')
    .distinct()
    .where('route_id', '=', routeId)
    .execute();
  return rows.map((r) => r.person_id);
}

/** Persons with a binding overlapping [from, to), a stored ride in it, or a count row of one of the periods. */
export async function findPersonsActiveIn(
  db: Db,
  fromMs: number,
  toMs: number,
  periods: readonly string[],
): Promise<string[]> {
  const { rows } = await sql<{ person_id: string }>`
    SELECT person_id FROM media_bindings WHERE valid && tstzrange(${toPgInstant(fromMs)}::timestamptz, ${toPgInstant(toMs)}::timestamptz)
    UNION
    SELECT person_id FROM rides WHERE tapped_at >= ${toPgInstant(fromMs)}::timestamptz AND tapped_at < ${toPgInstant(toMs)}::timestamptz
    UNION
    SELECT person_id FROM person_period_counts WHERE period = ANY(${periods}::text[])
    ORDER BY 1`.execute(db);
  return rows.map((r) => r.person_id);
}

export interface RideRow {
  personId: string;
  firstTapId: number;
  atMs: number;
  vehicleId: string;
  routeId: string;
  tapIds: number[];
  quarter: string;
  eligible: boolean;
  rated: boolean;
  counted: boolean;
  excluded: boolean;
  rulesVersion: string;
}

/** A stretch of one person's rides to replace: (tapped_at, first_tap_id) in [lower, upper); undefined = unbounded. */
export interface RideStretch {
  personId: string;
  lower: { atMs: number; tapId: number } | undefined;
  upper: { atMs: number; tapId: number } | undefined;
}

/**
 * Replaces the stored rides in each stretch by `rides`. Returns the (person, quarter) pairs whose
 * rides changed (deleted or written), for the counts.
 */
export async function replaceRideStretches(
  db: Db,
  stretches: readonly RideStretch[],
  rides: readonly RideRow[],
): Promise<{ personId: string; quarter: string }[]> {
  const touched = new Map<string, { personId: string; quarter: string }>();
  if (stretches.length > 0) {
    const { rows } = await sql<{ person_id: string; quarter: string }>`
      DELETE FROM rides x
      USING unnest(${stretches.map((s) => s.personId)}::uuid[],
                   ${stretches.map((s) => toPgInstant(s.lower?.atMs ?? -Infinity))}::timestamptz[], ${stretches.map((s) => s.lower?.tapId ?? 0)}::bigint[],
                   ${stretches.map((s) => toPgInstant(s.upper?.atMs ?? Infinity))}::timestamptz[], ${stretches.map((s) => s.upper?.tapId ?? 0)}::bigint[])
            AS s(person_id, lo_at, lo_id, hi_at, hi_id)
      WHERE x.person_id = s.person_id
        AND (x.tapped_at, x.first_tap_id) >= (s.lo_at, s.lo_id)
        AND (x.tapped_at, x.first_tap_id) < (s.hi_at, s.hi_id)
      RETURNING x.person_id, x.quarter`.execute(db);
    for (const r of rows)
      touched.set(`${r.person_id}|${r.quarter}`, { personId: r.person_id, quarter: r.quarter });
  }
  for (let i = 0; i < rides.length; i += 5000) {
    const chunk = rides.slice(i, i + 5000);
    await sql`
      INSERT INTO rides (person_id, first_tap_id, tapped_at, vehicle_id, route_id, tap_ids, quarter, eligible, rated, counted, excluded, rules_version)
      SELECT person_id, first_tap_id, tapped_at, vehicle_id, route_id, tap_ids::bigint[], quarter, eligible, rated, counted, excluded, rules_version
      FROM unnest(${chunk.map((r) => r.personId)}::uuid[], ${chunk.map((r) => r.firstTapId)}::bigint[],
                  ${chunk.map((r) => new Date(r.atMs).toISOString())}::timestamptz[], ${chunk.map((r) => r.vehicleId)}::text[],
                  ${chunk.map((r) => r.routeId)}::text[], ${chunk.map((r) => `{${r.tapIds.join(',')}}`)}::text[],
                  ${chunk.map((r) => r.quarter)}::text[], ${chunk.map((r) => r.eligible)}::bool[], ${chunk.map((r) => r.rated)}::bool[],
                  ${chunk.map((r) => r.counted)}::bool[], ${chunk.map((r) => r.excluded)}::bool[], ${chunk.map((r) => r.rulesVersion)}::text[])
        AS v(person_id, first_tap_id, tapped_at, vehicle_id, route_id, tap_ids, quarter, eligible, rated, counted, excluded, rules_version)
      ON CONFLICT (person_id, first_tap_id) DO UPDATE SET
        tapped_at = excluded.tapped_at, vehicle_id = excluded.vehicle_id, route_id = excluded.route_id, tap_ids = excluded.tap_ids,
        quarter = excluded.quarter, eligible = excluded.eligible, rated = excluded.rated, counted = excluded.counted,
        excluded = excluded.excluded, rules_version = excluded.rules_version`.execute(db);
    for (const r of chunk)
      touched.set(`${r.personId}|${r.quarter}`, { personId: r.personId, quarter: r.quarter });
  }
  return [...touched.values()];
}

/** A stored ride as the queries below read it (`at` in epoch milliseconds). */
interface StoredRideDbRow {
  person_id: string;
  first_tap_id: number;
  at: number;
  vehicle_id: string;
  route_id: string;
  tap_ids: number[];
  quarter: string;
  eligible: boolean;
  rated: boolean;
  counted: boolean;
  excluded: boolean;
  rules_version: string;
}

function toRideRow(r: StoredRideDbRow): RideRow {
  return {
    personId: r.person_id,
    firstTapId: r.first_tap_id,
    atMs: r.at,
    vehicleId: r.vehicle_id,
    routeId: r.route_id,
    tapIds: r.tap_ids.map(Number),
    quarter: r.quarter,
    eligible: r.eligible,
    rated: r.rated,
    counted: r.counted,
    excluded: r.excluded,
    rulesVersion: r.rules_version,
  };
}

/** Stored rides in the stretches (the recompute writes only what differs). */
export async function findStoredRidesInStretches(
  db: Db,
  stretches: readonly RideStretch[],
): Promise<RideRow[]> {
  if (stretches.length === 0) return [];
  const { rows } = await sql<StoredRideDbRow>`
    SELECT x.person_id, x.first_tap_id, floor(extract(epoch FROM x.tapped_at) * 1000)::float8 AS at, x.vehicle_id, x.route_id, x.tap_ids,
           x.quarter, x.eligible, x.rated, x.counted, x.excluded, x.rules_version
    FROM unnest(${stretches.map((s) => s.personId)}::uuid[],
                ${stretches.map((s) => toPgInstant(s.lower?.atMs ?? -Infinity))}::timestamptz[], ${stretches.map((s) => s.lower?.tapId ?? 0)}::bigint[],
                ${stretches.map((s) => toPgInstant(s.upper?.atMs ?? Infinity))}::timestamptz[], ${stretches.map((s) => s.upper?.tapId ?? 0)}::bigint[])
         AS s(person_id, lo_at, lo_id, hi_at, hi_id)
    JOIN rides x ON x.person_id = s.person_id
     AND (x.tapped_at, x.first_tap_id) >= (s.lo_at, s.lo_id)
     AND (x.tapped_at, x.first_tap_id) < (s.hi_at, s.hi_id)`.execute(db);
  return rows.map(toRideRow);
}

/** Deletes rides by key; returns their (person, quarter) pairs. */
export async function deleteRides(
  db: Db,
  keys: readonly { personId: string; firstTapId: number }[],
): Promise<{ personId: string; quarter: string }[]> {
  if (keys.length === 0) return [];
  const { rows } = await sql<{ person_id: string; quarter: string }>`
    DELETE FROM rides x USING unnest(${keys.map((k) => k.personId)}::uuid[], ${keys.map((k) => k.firstTapId)}::bigint[]) AS k(person_id, first_tap_id)
    WHERE x.person_id = k.person_id AND x.first_tap_id = k.first_tap_id
    RETURNING x.person_id, x.quarter`.execute(db);
  return rows.map((r) => ({ personId: r.person_id, quarter: r.quarter }));
}
