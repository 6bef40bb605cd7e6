/**
 * `pnpm bench:ingest`: the validator endpoint against the ceiling of the same PostgreSQL.
 * 1. migrates a fresh database (BENCH_DATABASE_URL's server, default the test server);
 * 2. baseline: raw COPY of rows shaped like taps (same columns and indexes) → rows/s;
 * 3. starts the real service (src/main.ts, INGEST_WORKERS workers) as a separate process;
 * 4. drives POST /v1/taps from another process (bench/load-driver.ts) with signed 50-tap batches,
 *    then 1-tap requests, at fixed concurrency over keep-alive connections;
 * 5. prints accepted taps/s, p50/p99 and the ratio to the COPY baseline, checks the count in the DB.
 * Knobs: BENCH_DURATION_S (15), BENCH_WARMUP_S (3), BENCH_DEVICES (500), BENCH_COPY_ROWS (300000),
 * BENCH_CONCURRENCY_BATCH (16), BENCH_CONCURRENCY_SINGLE (128), INGEST_WORKERS (2), DATABASE_POOL_SIZE (8).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { from as copyFrom } from 'pg-copy-streams';
import { insertDevice, migrateToLatest, openDatabase, sql, type DatabaseHandle } from '@ridetally/db';
import { generateMasterKey, keyringFromEnv } from '@ridetally/keyring';
import { generateDeviceSecret } from '../src/device-secret';
import { REPO_ROOT, startServiceProcess } from '../src/testing/service-process';

const run = promisify(execFile);
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const DURATION_S = env('BENCH_DURATION_S', 15);
const WARMUP_S = env('BENCH_WARMUP_S', 3);
const DEVICES = env('BENCH_DEVICES', 500);
const COPY_ROWS = env('BENCH_COPY_ROWS', 300_000);
const WORKERS = env('INGEST_WORKERS', 2);
const POOL = env('DATABASE_POOL_SIZE', 8);
const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function urlFor(database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin(statement: string): Promise<void> {
  const h = await openDatabase({ url: serverUrl, poolSize: 1 });
  try {
    await h.pool!.query(statement);
  } finally {
    await h.close();
  }
}

async function copyBaseline(handle: DatabaseHandle): Promise<{ rows: number; seconds: number; rowsPerS: number }> {
  // A table shaped like taps: same columns, same indexes (LIKE copies them), not partitioned.
  await sql`CREATE TABLE bench_copy_taps (LIKE taps INCLUDING DEFAULTS INCLUDING INDEXES)`.execute(handle.db);
  const chunks: string[] = [];
  const base = Date.parse('2026-01-05T00:00:00Z');
  let chunk = '';
  for (let i = 0; i < COPY_ROWS; i++) {
    const t = new Date(base + i * 10).toISOString();
    chunk += `${i}\tBD${i % DEVICES}\t${i}\t${t}\t${t}\t1\tV0123\tR1\tS${i % 40}\ttransit_card\tnormal\t3101${String(i).padStart(12, '0')}\t\\N\n`;
    if (chunk.length > 256 * 1024) {
      chunks.push(chunk);
      chunk = '';
    }
  }
  if (chunk) chunks.push(chunk);
  const client = await handle.pool!.connect();
  try {
    const started = performance.now();
    const stream = client.query(
      copyFrom(
        'COPY bench_copy_taps (tap_id, device_id, seq, tapped_at, received_at, batch_id, vehicle_id, route_id, stop_id, media_type, media_kind, media_key, media_ciphertext) FROM STDIN',
      ),
    );
    await pipeline(Readable.from(chunks), stream);
    const seconds = (performance.now() - started) / 1000;
    return { rows: COPY_ROWS, seconds, rowsPerS: COPY_ROWS / seconds };
  } finally {
    client.release();
    await sql`DROP TABLE bench_copy_taps`.execute(handle.db);
  }
}

interface DriverResult {
  tapsPerRequest: number;
  concurrency: number;
  requests: number;
  failed: number;
  accepted: number;
  duplicates: number;
  totalAccepted: number;
  requestsPerS: number;
  tapsPerS: number;
  p50Ms: number;
  p99Ms: number;
  nextSeq: number;
}

async function drive(url: string, devicesFile: string, taps: number, concurrency: number, seqBase: number): Promise<DriverResult> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'services/tap-ingest/bench/load-driver.ts'), url, devicesFile, String(taps), String(concurrency), String(DURATION_S), String(WARMUP_S), String(seqBase)],
    { cwd: REPO_ROOT, maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!) as DriverResult;
}

/** Group-commit totals of whichever worker answers /metrics. */
async function groupStats(url: string): Promise<{ groups: number; taps: number; seconds: number; cpuS: number; requests: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return {
    groups: value('ridetally_ingest_group_size_taps_count'),
    taps: value('ridetally_ingest_group_size_taps_sum'),
    seconds: value('ridetally_ingest_group_commit_seconds_sum'),
    cpuS: value('process_cpu_seconds_total'),
    requests: value('ridetally_ingest_batch_duration_seconds_count'),
  };
}

const dbName = `rt_bench_${randomBytes(4).toString('hex')}`;
const tmp = mkdtempSync(join(tmpdir(), 'rt-bench-'));
const masterKey = generateMasterKey();
const keyring = keyringFromEnv(masterKey);
await admin(`CREATE DATABASE ${dbName}`);
const handle = await openDatabase({ url: urlFor(dbName), poolSize: 2 });
let service: Awaited<ReturnType<typeof startServiceProcess>> | undefined;
try {
  await migrateToLatest(handle.db);
  const devices = Array.from({ length: DEVICES }, (_, i) => ({ deviceId: `BENCH-${i}`, secret: generateDeviceSecret() }));
  for (const d of devices) await insertDevice(handle.db, { deviceId: d.deviceId, vehicleId: 'V0123', secretCiphertext: keyring.encrypt('device-secret', d.secret) });
  const devicesFile = join(tmp, 'devices.json');
  writeFileSync(devicesFile, JSON.stringify(devices));

  const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
  process.stdout.write(`ingest benchmark: ${new Date().toISOString()}, ${DURATION_S}s per scenario after ${WARMUP_S}s warm-up, ${WORKERS} service worker(s), pool ${POOL}/worker, ${DEVICES} devices; load average ${load()} on ${cpus().length} cores\n`);
  const copy = await copyBaseline(handle);
  await sql`VACUUM ANALYZE`.execute(handle.db);
  process.stdout.write(`baseline  raw COPY into a taps-shaped table: ${Math.round(copy.rowsPerS)} rows/s (${copy.rows} rows in ${copy.seconds.toFixed(2)} s)\n`);

  service = await startServiceProcess({
    DATABASE_URL: urlFor(dbName),
    RIDETALLY_MASTER_KEY: masterKey,
    INGEST_WORKERS: String(WORKERS),
    DATABASE_POOL_SIZE: String(POOL),
    INGEST_DEVICE_RATE_PER_S: '0',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
  });

  let seq = 0;
  const rows: [string, DriverResult][] = [];
  for (const [label, taps, concurrency] of [
    ['50-tap batches', 50, env('BENCH_CONCURRENCY_BATCH', 16)],
    ['1-tap requests', 1, env('BENCH_CONCURRENCY_SINGLE', 128)],
  ] as const) {
    const before = await groupStats(service.url);
    const r = await drive(service.url, devicesFile, taps, concurrency, seq);
    const after = await groupStats(service.url);
    seq = r.nextSeq;
    rows.push([label, r]);
    process.stdout.write(
      `${label.padEnd(15)} concurrency ${concurrency}: ${Math.round(r.tapsPerS)} taps/s accepted (${Math.round(r.requestsPerS)} req/s), ` +
        `p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, failed ${r.failed}/${r.requests}, duplicates ${r.duplicates}; ` +
        `${((100 * r.tapsPerS) / copy.rowsPerS).toFixed(1)} % of raw COPY\n` +
        `          (one worker's group commits: ${((after.taps - before.taps) / Math.max(1, after.groups - before.groups)).toFixed(1)} taps/group, ` +
        `${((1000 * (after.seconds - before.seconds)) / Math.max(1, after.groups - before.groups)).toFixed(1)} ms/commit, ` +
        `${((1000 * (after.cpuS - before.cpuS)) / Math.max(1, after.requests - before.requests)).toFixed(2)} ms CPU/request; load average ${load()})\n`,
    );
  }
  const stored = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM taps`.execute(handle.db)).rows[0]!.n;
  const claimed = rows.reduce((n, [, r]) => n + r.totalAccepted, 0);
  process.stdout.write(`check     taps in the database: ${stored}; accepted answers: ${claimed} ${stored === claimed ? '(equal)' : '(MISMATCH)'}\n`);
  const [batch, single] = [rows[0]![1], rows[1]![1]];
  process.stdout.write(
    `targets   50-tap ≥ 50 % of COPY: ${((100 * batch.tapsPerS) / copy.rowsPerS).toFixed(1)} % ${batch.tapsPerS >= copy.rowsPerS / 2 ? 'MET' : 'MISSED'}; ` +
      `1-tap ≥ 5000 taps/s with p99 ≤ 50 ms: ${Math.round(single.tapsPerS)} taps/s, p99 ${single.p99Ms.toFixed(1)} ms ${single.tapsPerS >= 5000 && single.p99Ms <= 50 ? 'MET' : 'MISSED'}\n`,
  );
  if (stored !== claimed) process.exitCode = 1;
} finally {
  await service?.stop('SIGTERM');
  await handle.close();
  await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  rmSync(tmp, { recursive: true, force: true });
}
