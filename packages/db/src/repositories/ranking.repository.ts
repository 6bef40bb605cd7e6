/**
 * Live rankings read from the aggregator's person_period_counts (R6/R7). The list is the prefix of
 * the ranking order (rides desc, last counted ride, person id) down to the count of the `limit`-th
 * person, ties included: shared ranks are then positional within that prefix, because everyone with
 * more rides is in it. Both queries use the (period, rides DESC, last_counted_at, person_id) index.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

export interface RankingCountRow {
  personId: string;
  rides: number;
  lastCountedAt: Date | null;
  nameMasked: string;
  /** The employer on the period's last day, or the last one the person served in the period. */
  employerCode: string | null;
}

/** The ride count of the `limit`-th person of a period (rides ≥ 1), or null if fewer persons. */
export async function findRankCutoff(db: Db, period: string, limit: number): Promise<number | null> {
  const row = await db
    .selectFrom('person_period_counts')
    .select('rides')
    .where('period', '=', period)
    .where('rides', '>=', 1)
    .orderBy('rides', 'desc')
    .offset(limit - 1)
    .limit(1)
    .executeTakeFirst();
  return row?.rides ?? null;
}

/**
 * Persons of a period with rides ≥ minRides (and ≥ 1), in ranking order, with masked name and the
 * employer at the period's end. `periodFrom`/`periodTo` are the period's Shanghai dates [from, to).
 * `excludedPersons` are left out (R13 person exclusions).
 */
export async function listPeriodCounts(
  db: Db,
  opts: { period: string; minRides: number; periodFrom: string; periodTo: string; excludedPersons?: readonly string[] },
): Promise<RankingCountRow[]> {
  const excluded = opts.excludedPersons ?? [];
  // The prefix comes from the rank index alone; name and employer are then probed per row (scalar
  // subqueries by primary key and employments_person), never a join over every person.
  const rows = await sql<{ person_id: string; rides: number; last_counted_at: Date | null; name_masked: string | null; employer_code: string | null }>`
    WITH top AS MATERIALIZED (
      SELECT c.person_id, c.rides, c.last_counted_at FROM person_period_counts c
      WHERE c.period = ${opts.period} AND c.rides >= ${Math.max(1, opts.minRides)}
        ${excluded.length ? sql`AND c.person_id <> ALL(${sql.val(excluded)}::uuid[])` : sql``}
    )
    SELECT t.person_id, t.rides, t.last_counted_at,
      (SELECT p.name_masked FROM persons p WHERE p.person_id = t.person_id) AS name_masked,
      (SELECT e.employer_code FROM employments e
        WHERE e.person_id = t.person_id AND lower(e.in_service) < ${opts.periodTo}::date
          AND (upper_inf(e.in_service) OR upper(e.in_service) > ${opts.periodFrom}::date)
        ORDER BY lower(e.in_service) DESC LIMIT 1) AS employer_code
    FROM top t
    ORDER BY t.rides DESC, t.last_counted_at ASC NULLS LAST, t.person_id ASC`.execute(db);
  return rows.rows.map((r) => ({
    personId: r.person_id,
    rides: r.rides,
    lastCountedAt: r.last_counted_at,
    nameMasked: r.name_masked ?? '*',
    employerCode: r.employer_code,
  }));
}

/**
 * The ranking prefix for a period: every person whose count is at least the `limit`-th person's.
 * Excluded persons are removed before the cut-off is taken.
 */
export async function listRankingPrefix(
  db: Db,
  opts: { period: string; limit: number; periodFrom: string; periodTo: string; excludedPersons?: readonly string[] },
): Promise<RankingCountRow[]> {
  const excluded = opts.excludedPersons ?? [];
  const cutoff = await findRankCutoff(db, opts.period, opts.limit + excluded.length);
  return listPeriodCounts(db, { ...opts, minRides: cutoff ?? 1 });
}

/** Live counts of the given persons in a period (drift reports). */
export async function findLiveRideCounts(db: Db, period: string, personIds: readonly string[]): Promise<Map<string, number>> {
  if (personIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('person_period_counts')
    .select(['person_id', 'rides'])
    .where('period', '=', period)
    .where('person_id', 'in', personIds)
    .execute();
  return new Map(rows.map((r) => [r.person_id, r.rides]));
}

/** The rules stored for a programme year, if the office has set a version. */
export async function findStoredRules(db: Db, year: number): Promise<{ version: string; rules: unknown } | undefined> {
  return db
    .selectFrom('programme_years as y')
    .innerJoin('rules_versions as r', 'r.version', 'y.rules_version')
    .select(['r.version', 'r.rules'])
    .where('y.year', '=', year)
    .executeTakeFirst();
}

/** Baseline for the ranking benchmark: counts straight from the taps with GROUP BY (no aggregator). */
export async function countTapsByMediaGroupBy(db: Db, from: Date, to: Date, limit: number): Promise<{ mediaKey: string; taps: number }[]> {
  const r = await sql<{ media_key: string; taps: number }>`
    SELECT media_key, count(*)::int AS taps FROM taps
    WHERE tapped_at >= ${from} AND tapped_at < ${to}
    GROUP BY media_key ORDER BY taps DESC, media_key LIMIT ${limit}`.execute(db);
  return r.rows.map((x) => ({ mediaKey: x.media_key, taps: x.taps }));
}
