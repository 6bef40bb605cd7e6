/**
 * `pnpm bench:aggregate`: in one run, on a fresh database of the shared PostgreSQL and a unique
 * prefix on the shared Redis,
 *  1. worker throughput: taps/s counted by one worker process (the real `src/main.ts`) draining a
 *     backlog of tap batches written as ingest writes them (taps + tap keys + one outbox entry);
 *  2. lag at a steady rate (default 10,000 taps/s): outbox created_at → processed_at, p50/p99;
 *  3. full recompute of a synthetic year (scaled: see BENCH_* below), taps/s — from nothing, with
 *     --check, again on the consistent database, and BENCH_RECOMPUTE_REPEATS times (default 3, median
 *     printed) after VACUUM ANALYZE — against a plain `GROUP BY` over the same taps measured in the
 *     same run, and the cost of writing the same number of rows alone. The script runs node with the
 *     CLI's young generation (BENCH_SEMI_SPACE_MB, default 64); BENCH_KEEP_DB=1 keeps the database.
 * Scale with BENCH_PERSONS, BENCH_YEAR_PERSONS, BENCH_PUBLIC_TAPS, BENCH_BACKLOG_TAPS, BENCH_RATE,
 * BENCH_STEADY_SECONDS; phases 1-2 start BENCH_WORKERS worker processes (default 1), each with
 * AGGREGATOR_CONCURRENCY jobs (default 2) and the other AGGREGATOR_* settings from the environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { sql, type Database } from '@ridetally/db';
import { createTestDatabase, TEST_REDIS_URL, uniqueTestPrefix } from '@ridetally/db/testing';
import { recomputePeriod } from '../src/recompute';

const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const PERSONS = num('BENCH_PERSONS', 20_000);
const YEAR_PERSONS = num('BENCH_YEAR_PERSONS', 1_500);
const PUBLIC_TAPS = num('BENCH_PUBLIC_TAPS', 1_000_000);
const BACKLOG_TAPS = num('BENCH_BACKLOG_TAPS', 100_000);
const RATE = num('BENCH_RATE', 10_000);
const STEADY_SECONDS = num('BENCH_STEADY_SECONDS', 20);
/** Worker processes started for phases 1-2 (each runs relay + workers, AGGREGATOR_CONCURRENCY jobs). */
const WORKERS = num('BENCH_WORKERS', 1);
const BATCH = 2_000;
/** Runs of the steady-state recompute (after VACUUM ANALYZE); the median is reported. */
const RECOMPUTE_REPEATS = num('BENCH_RECOMPUTE_REPEATS', 3);
/** Which phases to run (1 = backlog + steady lag, 3 = year recompute). */
const PHASES = process.env.BENCH_PHASES ?? '13';
/** Share of taps made with a bound (employee) medium in the live phases. */
const PERSON_SHARE = 0.1;

const log = (s: string) => process.stdout.write(s + '\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function seedCity(db: Database): Promise<void> {
  await sql`INSERT INTO employers (code, name, type, city_area) VALUES ('E1', 'E1', 'agency', true), ('E2', 'E2', 'other', true)`.execute(
    db,
  );
  await sql`INSERT INTO routes (route_id, is_city) SELECT 'R' || g, g <= 40 FROM generate_series(0, 49) g`.execute(
    db,
  );
  await sql`
    INSERT INTO persons (person_id, id_hash, id_ciphertext, name_ciphertext, name_masked)
    SELECT gen_random_uuid(), 'h' || g, '\\x00', '\\x00', 'x*' FROM generate_series(1, ${PERSONS}::int) g`.execute(
    db,
  );
  await sql`
    WITH p AS (SELECT person_id, row_number() OVER (ORDER BY id_hash) AS n FROM persons)
    INSERT INTO media_bindings (person_id, media_type, media_key, valid)
    SELECT person_id, 'transit_card', 'P' || n, tstzrange('2022-04-01T00:00:00+08:00', NULL) FROM p`.execute(
    db,
  );
  await sql`
    INSERT INTO employments (person_id, employer_code, in_service)
    SELECT person_id, CASE WHEN random() < 0.9 THEN 'E1' ELSE 'E2' END, '[2022-04-01,)' FROM persons`.execute(
    db,
  );
}

/** Writes one batch as ingest does: batch row, taps, tap keys, one `taps` outbox entry. */
async function insertLiveBatch(db: Database, n: number, seqBase: number): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await sql`
      WITH b AS (INSERT INTO ingest_batches (tap_count, min_tapped_at, max_tapped_at) VALUES (${n}::int, now() - interval '20 seconds', now()) RETURNING batch_id),
      t AS (
        SELECT nextval('tap_id_seq') AS tap_id, g AS seq, now() - (random() * interval '20 seconds') AS at,
               (random() * 299)::int AS v,
               CASE WHEN random() < ${PERSON_SHARE}::float8 THEN 'P' || (1 + (random() * (${PERSONS}::int - 1))::int) ELSE 'M' || (random() * 200000)::int END AS media
        FROM generate_series(${seqBase}::int, ${seqBase + n - 1}::int) g),
      k AS (INSERT INTO tap_keys (device_id, seq, tap_id, tapped_at, content_hash) SELECT 'BENCH', seq, tap_id, at, '\\x00' FROM t)
      INSERT INTO taps (tap_id, device_id, seq, tapped_at, received_at, batch_id, vehicle_id, route_id, media_type, media_key)
      SELECT tap_id, 'BENCH', seq, at, now(), (SELECT batch_id FROM b), 'V' || v, 'R' || (v % 50), 'transit_card', media FROM t`.execute(
      tx,
    );
    await sql`INSERT INTO outbox (topic, payload) SELECT 'taps', jsonb_build_object('batchId', max(batch_id)) FROM ingest_batches`.execute(
      tx,
    );
  });
}

function startWorker(url: string, prefix: string): ChildProcess {
  const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'main.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    env: {
      ...process.env,
      DATABASE_URL: url,
      REDIS_URL: TEST_REDIS_URL,
      AGGREGATOR_QUEUE_PREFIX: prefix,
      AGGREGATOR_METRICS_PORT: '0',
      AGGREGATOR_CONCURRENCY: process.env.AGGREGATOR_CONCURRENCY ?? '2',
      RIDETALLY_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return child;
}

async function pending(db: Database): Promise<number> {
  const { rows } = await sql<{
    n: number;
  }>`SELECT count(*)::int AS n FROM outbox WHERE processed_at IS NULL`.execute(db);
  return rows[0]!.n;
}

async function main(): Promise<void> {
  const t = await createTestDatabase(4);
  const prefix = uniqueTestPrefix('bench');
  let workers: ChildProcess[] = [];
  try {
    log(
      `aggregate bench: ${PERSONS} bound persons, live taps ${PERSON_SHARE * 100}% by bound media; machine shared and noisy (load ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`,
    );
    await seedCity(t.db);

    if (PHASES.includes('1')) {
      // 1. backlog throughput
      for (let i = 0; i < BACKLOG_TAPS / BATCH; i++) await insertLiveBatch(t.db, BATCH, i * BATCH);
      await sql`ANALYZE`.execute(t.db);
      const t0 = performance.now();
      const load1 = (await import('node:os')).loadavg()[0]!;
      workers = Array.from({ length: WORKERS }, () => startWorker(t.url, prefix));
      while ((await pending(t.db)) > 0) await sleep(100);
      const backlogS = (performance.now() - t0) / 1000;
      log(
        `1. ${WORKERS} worker process(es) × ${process.env.AGGREGATOR_CONCURRENCY ?? 2} jobs drained ${BACKLOG_TAPS} taps in ${backlogS.toFixed(1)} s (incl. process start): ${(BACKLOG_TAPS / backlogS).toFixed(0)} taps/s counted (load ${load1.toFixed(1)} → ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`,
      );

      // 2. steady rate
      const { rows: mark } = await sql<{
        id: number;
      }>`SELECT coalesce(max(id), 0)::int AS id FROM outbox`.execute(t.db);
      const perBatchMs = (BATCH / RATE) * 1000;
      const load2 = (await import('node:os')).loadavg()[0]!;
      const start = performance.now();
      let sent = 0;
      let seq = 10_000_000;
      while (performance.now() - start < STEADY_SECONDS * 1000) {
        const due = Math.floor((performance.now() - start) / perBatchMs) + 1;
        while (sent < due) {
          await insertLiveBatch(t.db, BATCH, seq);
          seq += BATCH;
          sent++;
        }
        await sleep(5);
      }
      const sendS = (performance.now() - start) / 1000;
      while ((await pending(t.db)) > 0) await sleep(100);
      const { rows: lag } = await sql<{ p50: number; p99: number; max: number; n: number }>`
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - created_at))::float8 AS p50,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - created_at))::float8 AS p99,
             max(extract(epoch FROM processed_at - created_at))::float8 AS max, count(*)::int AS n
      FROM outbox WHERE id > ${mark[0]!.id}`.execute(t.db);
      const l = lag[0]!;
      log(
        `2. steady: offered ${((sent * BATCH) / sendS).toFixed(0)} taps/s for ${sendS.toFixed(0)} s (target ${RATE}); lag commit→counted p50 ${l.p50.toFixed(2)} s, p99 ${l.p99.toFixed(2)} s, max ${l.max.toFixed(2)} s over ${l.n} batches (load ${load2.toFixed(1)} → ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`,
      );
      await Promise.all(
        workers.map((w) => {
          const exited = new Promise((r) => w.once('exit', r));
          w.kill('SIGTERM');
          return exited;
        }),
      );
      workers = [];
    }

    if (!PHASES.includes('3')) return;
    // 3. synthetic year: employees' commutes (2 trips a day, some double taps) + public taps, all rated at 70 %
    const g0 = performance.now();
    await sql`
      INSERT INTO taps (tap_id, device_id, seq, tapped_at, received_at, batch_id, vehicle_id, route_id, media_type, media_key)
      SELECT nextval('tap_id_seq'), 'Y', row_number() OVER (), at, at, 0, 'V' || v, 'R' || (v % 50), 'transit_card', 'P' || p
      FROM (
        SELECT p, d, trip, (random() * 299)::int AS v,
               timestamptz '2023-01-01T00:00:00+08:00' + d * interval '1 day' + (CASE WHEN trip = 0 THEN 7.5 ELSE 17.5 END + random() * 2) * interval '1 hour' AS at0
        FROM generate_series(1, ${YEAR_PERSONS}::int) p, generate_series(0, 364) d, generate_series(0, 1) trip
        WHERE random() < 0.8) x,
      LATERAL (SELECT x.at0 AS at UNION ALL SELECT x.at0 + interval '8 seconds' WHERE random() < 0.2) y`.execute(
      t.db,
    );
    await sql`
      INSERT INTO taps (tap_id, device_id, seq, tapped_at, received_at, batch_id, vehicle_id, route_id, media_type, media_key)
      SELECT nextval('tap_id_seq'), 'YP', g, at, at, 0, 'V' || v, 'R' || (v % 50), 'transit_card', 'M' || (random() * 200000)::int
      FROM (SELECT g, timestamptz '2023-01-01T00:00:00+08:00' + random() * interval '365 days' AS at, (random() * 299)::int AS v
            FROM generate_series(1, ${PUBLIC_TAPS}::int) g) x`.execute(t.db);
    await sql`
      INSERT INTO ratings (person_id, tap_id, ride_first_tap_id, ride_tapped_at, score, rated_at)
      SELECT b.person_id, t.tap_id, t.tap_id, t.tapped_at, 4, t.tapped_at + interval '1 hour'
      FROM taps t JOIN media_bindings b ON b.media_key = t.media_key AND b.media_type = t.media_type
      WHERE t.device_id = 'Y' AND random() < 0.7`.execute(t.db);
    await sql`ANALYZE`.execute(t.db);
    const { rows: yc } = await sql<{ n: number; p: number }>`
      SELECT count(*)::int AS n, count(*) FILTER (WHERE device_id = 'Y')::int AS p FROM taps
      WHERE tapped_at >= '2023-01-01T00:00:00+08:00' AND tapped_at < '2024-01-01T00:00:00+08:00'`.execute(
      t.db,
    );
    const yearTaps = yc[0]!.n;
    log(
      `3. synthetic year 2023: ${yearTaps} taps (${yc[0]!.p} by ${YEAR_PERSONS} employees), generated in ${((performance.now() - g0) / 1000).toFixed(0)} s`,
    );

    const b0 = performance.now();
    await sql`
      SELECT b.person_id, count(*) FROM taps t
      JOIN media_bindings b ON b.media_type = t.media_type AND b.media_key = t.media_key AND b.valid @> t.tapped_at
      WHERE t.tapped_at >= '2023-01-01T00:00:00+08:00' AND t.tapped_at < '2024-01-01T00:00:00+08:00'
      GROUP BY b.person_id`.execute(t.db);
    await sql`
      SELECT (tapped_at AT TIME ZONE 'Asia/Shanghai')::date, route_id, count(*) FROM taps
      WHERE tapped_at >= '2023-01-01T00:00:00+08:00' AND tapped_at < '2024-01-01T00:00:00+08:00' GROUP BY 1, 2`.execute(
      t.db,
    );
    const baseS = (performance.now() - b0) / 1000;
    log(
      `   baseline plain GROUP BY (taps per person via bindings + taps per day and route): ${baseS.toFixed(1)} s = ${(yearTaps / baseS).toFixed(0)} taps/s`,
    );

    // A second baseline: what writing the recompute's output alone costs (as many judgements and
    // rides, INSERT … SELECT into copies of the tables with their indexes, rolled back).
    const w0 = performance.now();
    await t.db
      .transaction()
      .execute(async (tx) => {
        await sql`CREATE TEMP TABLE wb (LIKE tap_boardings INCLUDING ALL) ON COMMIT DROP`.execute(tx);
        await sql`
          INSERT INTO wb SELECT tap_id, tapped_at, route_id, true FROM taps
          WHERE tapped_at >= '2022-12-31T00:00:00+08:00' AND tapped_at < '2024-01-02T00:00:00+08:00'`.execute(
          tx,
        );
        await sql`CREATE TEMP TABLE wr (LIKE rides INCLUDING ALL) ON COMMIT DROP`.execute(tx);
        await sql`
          INSERT INTO wr
          SELECT b.person_id, x.tap_id, x.tapped_at, x.vehicle_id, x.route_id, ARRAY[x.tap_id], '2023-Q1', true, true, true, false, 'v'
          FROM taps x JOIN media_bindings b ON b.media_type = x.media_type AND b.media_key = x.media_key
          WHERE x.device_id = 'Y' AND x.seq % 6 < 5`.execute(tx);
        throw new Error('rollback');
      })
      .catch(() => undefined);
    const writeS = (performance.now() - w0) / 1000;
    log(
      `   baseline writes alone (INSERT … SELECT of as many judgements and rides, one connection): ${writeS.toFixed(1)} s = ${(yearTaps / writeS).toFixed(0)} taps/s`,
    );

    // From nothing (the year was never counted), then --check, then again on the now consistent
    // database (the usual case: a recompute that finds what the workers counted writes nothing).
    // The steady state is measured RECOMPUTE_REPEATS times (the machine is shared: one run may meet a
    // neighbour's burst) and its median printed.
    const steady: number[] = [];
    // [label, --check, VACUUM ANALYZE first, a steady-state run]
    for (const [label, check, vacuum, steadyRun] of [
      ['recompute 2023 (from nothing)', false, false, false],
      ['recompute 2023 --check', true, false, false],
      ['recompute 2023 (again: finds what is stored)', false, false, false],
      // What a recompute meets once autovacuum has caught up with the writes above (the steady state).
      ...Array.from(
        { length: RECOMPUTE_REPEATS },
        (_, i) =>
          [
            `recompute 2023 (again, after VACUUM ANALYZE, ${i + 1}/${RECOMPUTE_REPEATS})`,
            false,
            i === 0,
            true,
          ] as const,
      ),
    ] as const) {
      if (vacuum) await sql`VACUUM ANALYZE`.execute(t.db);
      const r0 = performance.now();
      const c0 = process.cpuUsage();
      const report = await recomputePeriod(t.db, '2023', { check });
      const s = (performance.now() - r0) / 1000;
      const cpu = process.cpuUsage(c0);
      if (steadyRun) steady.push(s);
      log(
        `   ${label}: ${s.toFixed(2)} s = ${(yearTaps / s).toFixed(0)} taps/s (${(baseS / s).toFixed(2)}× the baseline's speed); ${report.rides} rides (${report.seconds.rides.toFixed(1)} s), ${report.volumeKeys} volume keys (${report.seconds.volume.toFixed(1)} s)${check ? `, ${report.differenceCount} differences` : ''}; Node CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (load ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`,
      );
    }
    const median = [...steady].sort((a, b) => a - b)[Math.floor(steady.length / 2)]!;
    log(
      `   recompute 2023, steady state, median of ${steady.length}: ${median.toFixed(2)} s = ${(yearTaps / median).toFixed(0)} taps/s (${(baseS / median).toFixed(2)}× the baseline's speed)`,
    );
  } finally {
    for (const w of workers) w.kill('SIGKILL');
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    await new Queue('aggregate', { connection: redis, prefix })
      .obliterate({ force: true })
      .catch(() => undefined);
    redis.disconnect();
    // BENCH_KEEP_DB=1 keeps the database for profiling (its URL is printed; drop it by hand).
    if (process.env.BENCH_KEEP_DB === '1') {
      log(`   database kept: ${t.url}`);
      await t.close();
    } else await t.drop();
  }
}

await main();
process.exit(0);
