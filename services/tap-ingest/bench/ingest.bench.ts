/**
 * `pnpm bench:ingest`: the validator endpoint against the ceiling of the same PostgreSQL.
 * 1. migrates a fresh database (BENCH_DATABASE_URL's server, default the test server);
 * 2. baseline: raw COPY of rows shaped like taps (same columns and indexes) → rows/s;
 * 3. starts the real service (src/main.ts, INGEST_WORKERS workers) as a separate process;
 * 4. drives POST /v1/taps from another process (bench/load-driver.ts) with signed 50-tap batches,
 *    then 1-tap requests, at fixed concurrency over keep-alive connections;
 * 5. prints accepted taps/s, p50/p99 and the ratio to the COPY baseline, checks the count in the DB.
 * Knobs: BENCH_DURATION_S (15), BENCH_WARMUP_S (3), BENCH_DEVICES (500), BENCH_COPY_ROWS (300000),
 * BENCH_CONCURRENCY_BATCH (16), BENCH_CONCURRENCY_SINGLE (128), INGEST_WORKERS (2), DATABASE_POOL_SIZE (8),
 * BENCH_ONLY (50 or 1: one scenario), BENCH_SERVICE_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** CPU seconds (user + system) a process has used so far, from /proc (0 when it is gone). */
function procCpuS(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

/** A process and its descendants (the service's cluster workers). */
function processTree(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parentOf.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parentOf) if (ppid === tree[i]) tree.push(pid);
  return tree;
}

/** CPU seconds used so far by a set of processes, by pid. */
const cpuOf = (pids: number[]) => new Map(pids.map((p) => [p, procCpuS(p)]));
/** CPU used between two samples; a process that appeared meanwhile counts from zero. */
function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let s = 0;
  for (const [pid, cpu] of after) s += cpu - (before.get(pid) ?? 0);
  return s;
}

async function copyBaseline(handle: DatabaseHandle): Promise<{ rows: number; seconds: number; rowsPerS: number; backendCpuS: number }> {
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
    const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const cpuBefore = procCpuS(backend);
    const started = performance.now();
    const stream = client.query(
      copyFrom(
        'COPY bench_copy_taps (tap_id, device_id, seq, tapped_at, received_at, batch_id, vehicle_id, route_id, stop_id, media_type, media_kind, media_key, media_ciphertext) FROM STDIN',
      ),
    );
    await pipeline(Readable.from(chunks), stream);
    const seconds = (performance.now() - started) / 1000;
    return { rows: COPY_ROWS, seconds, rowsPerS: COPY_ROWS / seconds, backendCpuS: procCpuS(backend) - cpuBefore };
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
  totalRequests: number;
  driverCpuS: number;
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

// One kept-alive connection for /metrics: every sample then comes from the same cluster worker (a
// new connection may land on another worker, whose counters are its own: subtracting one worker's
// sample from another's gave nonsense such as "-18.3 taps/group").
const metricsAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: metricsAgent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}

/** Commit-time totals of one worker (always the same one, see metricsAgent). */
async function workerCommitStats(url: string): Promise<{ groups: number; seconds: number }> {
  const text = await fetchText(`${url}/metrics`);
  const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { groups: value('ridetally_ingest_group_commit_seconds_count'), seconds: value('ridetally_ingest_group_commit_seconds_sum') };
}

/** Group commits that stored taps, all workers together (one ingest batch each). */
async function batchTotals(handle: DatabaseHandle): Promise<{ groups: number; taps: number }> {
  const r = (await sql<{ groups: number; taps: number }>`SELECT count(*)::int AS groups, coalesce(sum(tap_count), 0)::int AS taps FROM ingest_batches`.execute(handle.db)).rows[0]!;
  return r;
}

/** The PostgreSQL backends serving the bench database (the service's pools). */
async function backendPids(handle: DatabaseHandle): Promise<number[]> {
  return (await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`.execute(handle.db)).rows.map((r) => r.pid);
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
  }, { nodeArgs: (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean), readyTimeoutMs: 180_000 });

  let seq = 0;
  const rows: [string, DriverResult][] = [];
  const scenarios = [
    ['50-tap batches', 50, env('BENCH_CONCURRENCY_BATCH', 16)],
    ['1-tap requests', 1, env('BENCH_CONCURRENCY_SINGLE', 128)],
  ] as const;
  for (const [label, taps, concurrency] of scenarios.filter(([, taps]) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY === String(taps))) {
    const servicePids = processTree(service.child.pid!);
    const [commitsBefore, batchesBefore, backendsBefore] = [await workerCommitStats(service.url), await batchTotals(handle), await backendPids(handle)];
    const serviceCpuBefore = cpuOf(servicePids);
    const pgCpuBefore = cpuOf(backendsBefore);
    const r = await drive(service.url, devicesFile, taps, concurrency, seq);
    const serviceCpuS = cpuBetween(serviceCpuBefore, cpuOf(servicePids));
    const pgCpuS = cpuBetween(pgCpuBefore, cpuOf(await backendPids(handle)));
    const [commitsAfter, batchesAfter] = [await workerCommitStats(service.url), await batchTotals(handle)];
    seq = r.nextSeq;
    rows.push([label, r]);
    const groups = Math.max(1, batchesAfter.groups - batchesBefore.groups);
    const allTaps = Math.max(1, batchesAfter.taps - batchesBefore.taps);
    const perTapUs = (cpuS: number) => ((1e6 * cpuS) / allTaps).toFixed(1);
    process.stdout.write(
      `${label.padEnd(15)} concurrency ${concurrency}: ${Math.round(r.tapsPerS)} taps/s accepted (${Math.round(r.requestsPerS)} req/s), ` +
        `p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, failed ${r.failed}/${r.requests}, duplicates ${r.duplicates}; ` +
        `${((100 * r.tapsPerS) / copy.rowsPerS).toFixed(1)} % of raw COPY\n` +
        `          (group commits, all workers: ${(allTaps / groups).toFixed(1)} taps/group; one worker: ` +
        `${((1000 * (commitsAfter.seconds - commitsBefore.seconds)) / Math.max(1, commitsAfter.groups - commitsBefore.groups)).toFixed(1)} ms/commit; ` +
        `CPU per request: service ${((1000 * serviceCpuS) / Math.max(1, r.totalRequests)).toFixed(3)} ms; CPU per tap: service ${perTapUs(serviceCpuS)} µs, ` +
        `PostgreSQL backends ${perTapUs(pgCpuS)} µs, load driver ${perTapUs(r.driverCpuS)} µs (raw COPY: ${((1e6 * copy.backendCpuS) / copy.rows).toFixed(1)} µs/row); ` +
        `load average ${load()})\n`,
    );
  }
  const stored = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM taps`.execute(handle.db)).rows[0]!.n;
  const claimed = rows.reduce((n, [, r]) => n + r.totalAccepted, 0);
  process.stdout.write(`check     taps in the database: ${stored}; accepted answers: ${claimed} ${stored === claimed ? '(equal)' : '(MISMATCH)'}\n`);
  const [batch, single] = [rows.find(([l]) => l.startsWith('50'))?.[1], rows.find(([l]) => l.startsWith('1-'))?.[1]];
  if (batch && single) process.stdout.write(
    `targets   50-tap ≥ 50 % of COPY: ${((100 * batch.tapsPerS) / copy.rowsPerS).toFixed(1)} % ${batch.tapsPerS >= copy.rowsPerS / 2 ? 'MET' : 'MISSED'}; ` +
      `1-tap ≥ 5000 taps/s with p99 ≤ 50 ms: ${Math.round(single.tapsPerS)} taps/s, p99 ${single.p99Ms.toFixed(1)} ms ${single.tapsPerS >= 5000 && single.p99Ms <= 50 ? 'MET' : 'MISSED'}\n`,
  );
  if (stored !== claimed) process.exitCode = 1;
} finally {
  metricsAgent.destroy();
  await service?.stop('SIGTERM');
  await handle.close();
  await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  rmSync(tmp, { recursive: true, force: true });
}
