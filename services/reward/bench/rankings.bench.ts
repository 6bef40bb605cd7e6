/**
 * `pnpm bench:rankings`: the live top-2000 of a year with 100,000 ranked persons, against a plain
 * GROUP BY over the same taps, in one run on one fresh database (the machine is shared and noisy:
 * compare the ratio, not the absolute figures). Seeds BENCH_PERSONS persons (default 100,000) and
 * BENCH_TAPS taps (default 2,000,000) for 2022; person_period_counts is filled from those taps, as
 * the aggregator would.
 */
import { performance } from 'node:perf_hooks';
import { countTapsByMediaGroupBy, listRankingPrefix, sql } from '@ridetally/db';
import { createTestDatabase } from '@ridetally/db/testing';
import { liveRanking } from '../src/rankings.service';

const PERSONS = Number(process.env.BENCH_PERSONS ?? 100_000);
const TAPS = Number(process.env.BENCH_TAPS ?? 2_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 25);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time(runs: number, fn: () => Promise<unknown>): Promise<{ median: number; p90: number }> {
  await fn(); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  const s = [...ms].sort((a, b) => a - b);
  return { median: median(ms), p90: s[Math.floor(s.length * 0.9)]! };
}

const db = await createTestDatabase(2);
try {
  const t0 = performance.now();
  await sql`INSERT INTO employers (code, name, type, city_area) VALUES ('E1', '吕梁市交通运输局', 'agency', true)`.execute(db.db);
  await sql`
    INSERT INTO persons (person_id, id_hash, id_ciphertext, name_ciphertext, name_masked)
    SELECT md5('p' || i)::uuid, 'h' || i, '\\x00'::bytea, '\\x00'::bytea, '张*' || (i % 10)
    FROM generate_series(1, ${PERSONS}) i`.execute(db.db);
  await sql`
    INSERT INTO employments (person_id, employer_code, in_service)
    SELECT md5('p' || i)::uuid, 'E1', '[2020-01-01,)'::daterange FROM generate_series(1, ${PERSONS}) i`.execute(db.db);
  // Skewed riders: 70 % of the taps go to 3,000 regular commuters (≈ 470 each, so the annual list
  // is full and tied), the rest spread over everyone; hashtext spreads them over the year.
  await sql`
    INSERT INTO taps (tap_id, device_id, seq, tapped_at, received_at, batch_id, vehicle_id, route_id, media_type, media_key)
    SELECT j, 'D' || (j % 500), j,
      timestamptz '2022-04-01 00:00+08' + (abs(hashtext('t' || j)) % (275 * 86400)) * interval '1 second',
      now(), 1, 'V' || (j % 300), 'R' || (j % 20), 'qr',
      'p' || CASE WHEN abs(hashtext('k' || j)) % 10 < 7 THEN 1 + abs(hashtext('m' || j)) % 3000 ELSE 1 + abs(hashtext('m' || j)) % ${PERSONS} END
    FROM generate_series(1, ${TAPS}) j`.execute(db.db);
  await sql`
    INSERT INTO person_period_counts (person_id, period, rides, last_counted_at, rules_version)
    SELECT md5(media_key)::uuid, '2022', count(*)::int, max(tapped_at), '2022.default'
    FROM taps GROUP BY media_key`.execute(db.db);
  await sql`ANALYZE`.execute(db.db);
  const seeded = await sql<{ n: number }>`SELECT count(*)::int AS n FROM person_period_counts WHERE period = '2022'`.execute(db.db);
  const seedMs = performance.now() - t0;

  if (process.env.BENCH_EXPLAIN) {
    const cutoff = await sql<{ rides: number }>`SELECT rides FROM person_period_counts WHERE period = '2022' AND rides >= 1 ORDER BY rides DESC OFFSET 1999 LIMIT 1`.execute(db.db);
    // The statement of listPeriodCounts (ranking.repository.ts) with the cut-off filled in.
    const plan = await sql<{ 'QUERY PLAN': string }>`EXPLAIN (ANALYZE, BUFFERS)
      WITH top AS MATERIALIZED (
        SELECT c.person_id, c.rides, c.last_counted_at FROM person_period_counts c
        WHERE c.period = '2022' AND c.rides >= ${cutoff.rows[0]?.rides ?? 1})
      SELECT t.person_id, t.rides, t.last_counted_at,
        (SELECT p.name_masked FROM persons p WHERE p.person_id = t.person_id) AS name_masked,
        (SELECT e.employer_code FROM employments e
          WHERE e.person_id = t.person_id AND lower(e.in_service) < '2023-01-01'::date
            AND (upper_inf(e.in_service) OR upper(e.in_service) > '2022-01-01'::date)
          ORDER BY lower(e.in_service) DESC LIMIT 1) AS employer_code
      FROM top t ORDER BY t.rides DESC, t.last_counted_at ASC NULLS LAST, t.person_id ASC`.execute(db.db);
    process.stdout.write(plan.rows.map((r) => r['QUERY PLAN']).join('\n') + '\n');
  }
  // CPU calibration: 10^7 integer additions take ~10 ms on an idle core.
  const calibration = await time(5, () => {
    let x = 0;
    for (let i = 0; i < 1e7; i++) x += i;
    return Promise.resolve(x);
  });
  const roundTrip = await time(RUNS, () => sql`SELECT 1`.execute(db.db));
  const queryOnly = await time(RUNS, () => listRankingPrefix(db.db, { period: '2022', limit: 2000, periodFrom: '2022-01-01', periodTo: '2023-01-01' }));
  const shared = await time(RUNS, () => liveRanking(db.db, '2022', 'shared'));
  const firstReached = await time(RUNS, () => liveRanking(db.db, '2022', 'first-reached'));
  const baseline = await time(Math.max(3, Math.floor(RUNS / 5)), () =>
    countTapsByMediaGroupBy(db.db, new Date('2022-01-01T00:00:00+08:00'), new Date('2023-01-01T00:00:00+08:00'), 2000),
  );
  const rows = (await liveRanking(db.db, '2022', 'shared')).rows.length;

  const fmt = (x: number) => x.toFixed(1);
  process.stdout.write(
    [
      `ranked persons: ${seeded.rows[0]!.n}, taps: ${TAPS}, rows returned: ${rows} (seeded in ${(seedMs / 1000).toFixed(1)} s)`,
      '',
      '| query | median ms | p90 ms | × baseline (median) |',
      '|---|---|---|---|',
      `| live top-2000 of 2022, shared ranks, awards (person_period_counts) | ${fmt(shared.median)} | ${fmt(shared.p90)} | ${(shared.median / baseline.median).toFixed(3)} |`,
      `| live top-2000 of 2022, first-reached | ${fmt(firstReached.median)} | ${fmt(firstReached.p90)} | ${(firstReached.median / baseline.median).toFixed(3)} |`,
      `| (the prefix query alone, rows + name + employer) | ${fmt(queryOnly.median)} | ${fmt(queryOnly.p90)} | ${(queryOnly.median / baseline.median).toFixed(3)} |`,
      `| (a SELECT 1 round trip, for the machine's load) | ${fmt(roundTrip.median)} | ${fmt(roundTrip.p90)} | ${(roundTrip.median / baseline.median).toFixed(3)} |`,
      `| (CPU calibration: 10^7 additions in JS, ~10 ms idle) | ${fmt(calibration.median)} | ${fmt(calibration.p90)} | – |`,
      `| baseline: GROUP BY media over the year's taps, top 2000 | ${fmt(baseline.median)} | ${fmt(baseline.p90)} | 1 |`,
      '',
      `target ≤ 50 ms: ${shared.median <= 50 && firstReached.median <= 50 ? 'met' : 'NOT met'}`,
      '',
    ].join('\n'),
  );
} finally {
  await db.drop();
}
