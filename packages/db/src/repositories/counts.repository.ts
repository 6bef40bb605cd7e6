/**
 * person_period_counts (R6): one row per person per period ('2022-Q3' and '2022') in which the person
 * has at least one derived ride, with the number of counted rides (≥ 0), the time of the last counted
 * ride (first-reached tie policy) and the rules version. Always rebuilt from the rides table, so a
 * row can never drift from the rides it summarises.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

/** Rebuilds the quarter rows of the pairs, then the year rows of their years. */
export async function refreshPersonPeriodCounts(
  db: Db,
  pairs: readonly { personId: string; quarter: string }[],
): Promise<void> {
  if (pairs.length === 0) return;
  const persons = pairs.map((p) => p.personId);
  const quarters = pairs.map((p) => p.quarter);
  await sql`
    WITH pairs AS (SELECT DISTINCT person_id, quarter FROM unnest(${persons}::uuid[], ${quarters}::text[]) AS p(person_id, quarter)),
    agg AS (
      SELECT p.person_id, p.quarter,
             count(r.first_tap_id) FILTER (WHERE r.counted)::int AS rides,
             max(r.tapped_at) FILTER (WHERE r.counted) AS last_counted_at,
             count(r.first_tap_id)::int AS total,
             max(r.rules_version) AS rules_version
      FROM pairs p LEFT JOIN rides r ON r.person_id = p.person_id AND r.quarter = p.quarter
      GROUP BY p.person_id, p.quarter),
    gone AS (
      DELETE FROM person_period_counts c USING agg
      WHERE agg.total = 0 AND c.person_id = agg.person_id AND c.period = agg.quarter)
    INSERT INTO person_period_counts AS c (person_id, period, rides, last_counted_at, rules_version)
    SELECT person_id, quarter, rides, last_counted_at, rules_version FROM agg WHERE total > 0
    ON CONFLICT (person_id, period) DO UPDATE SET
      rides = excluded.rides, last_counted_at = excluded.last_counted_at, rules_version = excluded.rules_version, updated_at = now()
    WHERE (c.rides, c.last_counted_at, c.rules_version) IS DISTINCT FROM (excluded.rides, excluded.last_counted_at, excluded.rules_version)`.execute(
    db,
  );
  await sql`
    WITH pairs AS (SELECT DISTINCT person_id, split_part(quarter, '-', 1) AS year FROM unnest(${persons}::uuid[], ${quarters}::text[]) AS p(person_id, quarter)),
    agg AS (
      SELECT p.person_id, p.year, coalesce(sum(c.rides), 0)::int AS rides, max(c.last_counted_at) AS last_counted_at,
             count(c.period)::int AS total, max(c.rules_version) AS rules_version
      FROM pairs p LEFT JOIN person_period_counts c ON c.person_id = p.person_id AND c.period LIKE p.year || '-Q_'
      GROUP BY p.person_id, p.year),
    gone AS (
      DELETE FROM person_period_counts c USING agg
      WHERE agg.total = 0 AND c.person_id = agg.person_id AND c.period = agg.year)
    INSERT INTO person_period_counts AS c (person_id, period, rides, last_counted_at, rules_version)
    SELECT person_id, year, rides, last_counted_at, rules_version FROM agg WHERE total > 0
    ON CONFLICT (person_id, period) DO UPDATE SET
      rides = excluded.rides, last_counted_at = excluded.last_counted_at, rules_version = excluded.rules_version, updated_at = now()
    WHERE (c.rides, c.last_counted_at, c.rules_version) IS DISTINCT FROM (excluded.rides, excluded.last_counted_at, excluded.rules_version)`.execute(
    db,
  );
}

export interface PeriodCountRow {
  personId: string;
  rides: number;
  lastCountedAt: Date | null;
  rulesVersion: string;
}

/** Live counts of a period, in rank order (rides desc, last counted asc, person id). */
export async function findPeriodCounts(db: Db, period: string, minRides = 0): Promise<PeriodCountRow[]> {
  const rows = await db
    .selectFrom('person_period_counts')
    .select(['person_id', 'rides', 'last_counted_at', 'rules_version'])
    .where('period', '=', period)
    .where('rides', '>=', minRides)
    .orderBy('rides', 'desc')
    .orderBy('last_counted_at', 'asc')
    .orderBy('person_id')
    .execute();
  return rows.map((r) => ({
    personId: r.person_id,
    rides: r.rides,
    lastCountedAt: r.last_counted_at,
    rulesVersion: r.rules_version,
  }));
}
