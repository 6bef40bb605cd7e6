/**
 * `pnpm bench scale-quarter`: a simulated quarter through the scaled platform, end to end (issue 7,
 * acceptance point 3), with each phase timed.
 *
 *  setup     a PostgreSQL database (private server, or a new database on the shared one) migrated by
 *            the CLI; the city imported with `simulate --setup direct --setup-only` (GTFS, employers,
 *            roster, vehicles, device secrets, a rider-app client); a private Redis; the platform as
 *            separate processes: INGEST × tap-ingest, AGGREGATORS × aggregator (BullMQ), RIDER_APPS ×
 *            rider-app, one reward service;
 *  register  every registered rider and their media through the rider-app API (round-robin);
 *  taps      the simulator generates the quarter day by day in this process and posts every
 *            validator batch, signed, round-robin to the tap-ingest replicas (one request at a time
 *            per device, retries with the same seqs); the ground truth is computed alongside;
 *  ratings   every rating through the rider-app API (`POST /v1/rides/{tapId}/rating`), the rated
 *            tap's id looked up by (device, seq) in `tap_keys`;
 *  drain     until no outbox row is pending (the aggregators counted everything), or DRAIN_TIMEOUT_S;
 *            COUNTS=recompute (or a drain that timed out) stops the aggregators and rebuilds the
 *            counts with `ridetally recompute --period P` for every period instead — the report says
 *            which path produced the verified counts;
 *  verify    `ridetally verify --against <out>` (counts, rankings, daily volume vs the ground truth),
 *            and with CHECK=1 `ridetally recompute --period P --check` for every period.
 *
 * Printed at the end (and written to <out>/scale-quarter-report.json): phase times, taps/s, peak RSS
 * (VmHWM) of every process, the load average during the run, the verify result. Exit 1 when verify
 * (or a check) finds a difference or a tap batch failed.
 *
 * Sizes (env): SCALE (1), DAYS (91), START (2022-04-01), SEED (1), BATCH_MINUTES (20), INGEST (2),
 * AGGREGATORS (3), AGGREGATOR_CONCURRENCY (2), RIDER_APPS (1), CONCURRENCY (16, tap requests in
 * flight), RATING_CONCURRENCY (16, also registrations over HTTP), REGISTER_CONCURRENCY (16, direct),
 * COUNTS (worker | recompute: no aggregator runs, riders register alongside the taps, counts are
 * rebuilt at the end), REGISTER (http | direct), RATINGS (http | bulk), DRAIN_TIMEOUT_S (0 = none),
 * CHECK (0), PG (private | shared; shared = a new database on PG_ADMIN_URL, default the local 5432),
 * OUT (a new folder under /tmp; kept), KEEP_DB (0: the database is dropped at the end).
 * Try it small first: `SCALE=0.05 DAYS=91 pnpm bench scale-quarter`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findTapIdsByDeviceSeq,
  insertRatingsBulk,
  openDatabase,
  sql,
  type BulkRating,
  type Database,
} from '../packages/db/src/index';
import { keyringFromEnv } from '../packages/keyring/src/index';
import { bindMedium, registerPerson } from '../packages/registry/src/index';
import {
  createTapPoster,
  generateCity,
  personsCsv,
  postRatingsByTapId,
  registerRiders,
  runSimulation,
  tapKey,
  toRatingRecord,
  writeGroundTruth,
  type FetchLike,
  type RatingRecord,
  type SimPerson,
} from '../packages/simulator/src/index';
import {
  createCleanup,
  freePort,
  REPO_ROOT,
  runAllCleanups,
  sleep,
  spawnService,
  startPrivatePostgres,
  startPrivateRedis,
  type NodeProcess,
} from '../test/faults/fault-kit';

// ------------------------------------------------------------------------------------ settings

function num(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number ≥ 0`);
  return n;
}

const size = {
  seed: String(num('SEED', 1)),
  scale: num('SCALE', 1),
  days: Math.round(num('DAYS', 91)),
  start: process.env.START ?? '2022-04-01',
  batchMinutes: num('BATCH_MINUTES', 20),
  ingest: Math.max(1, Math.round(num('INGEST', 2))),
  aggregators: Math.round(num('AGGREGATORS', 3)),
  aggregatorConcurrency: Math.max(1, Math.round(num('AGGREGATOR_CONCURRENCY', 2))),
  riderApps: Math.max(1, Math.round(num('RIDER_APPS', 1))),
  concurrency: Math.max(1, Math.round(num('CONCURRENCY', 16))),
  ratingConcurrency: Math.max(1, Math.round(num('RATING_CONCURRENCY', 16))),
  registerConcurrency: Math.max(1, Math.round(num('REGISTER_CONCURRENCY', 16))),
  counts: (process.env.COUNTS ?? 'worker') as 'worker' | 'recompute',
  register: (process.env.REGISTER ?? 'http') as 'http' | 'direct',
  ratings: (process.env.RATINGS ?? 'http') as 'http' | 'bulk',
  drainTimeoutS: num('DRAIN_TIMEOUT_S', 0),
  check: process.env.CHECK === '1',
  pg: (process.env.PG ?? 'private') as 'private' | 'shared',
  keepDb: process.env.KEEP_DB === '1',
};
if (size.counts !== 'worker' && size.counts !== 'recompute')
  throw new Error('COUNTS must be "worker" or "recompute"');
if (size.register !== 'http' && size.register !== 'direct')
  throw new Error('REGISTER must be "http" or "direct"');
if (size.ratings !== 'http' && size.ratings !== 'bulk') throw new Error('RATINGS must be "http" or "bulk"');
if (size.pg !== 'private' && size.pg !== 'shared') throw new Error('PG must be "private" or "shared"');

const started = Date.now();
const log = (line: string): void => {
  const s = ((Date.now() - started) / 1000).toFixed(0).padStart(5);
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s} s  ${line}\n`);
};

// ------------------------------------------------------------------------------------ measuring

const phases: { phase: string; seconds: number; detail?: string }[] = [];
let phaseStart = Date.now();
function endPhase(phase: string, detail?: string): number {
  const seconds = Math.round((Date.now() - phaseStart) / 100) / 10;
  phases.push({ phase, seconds, ...(detail ? { detail } : {}) });
  log(`phase ${phase}: ${seconds} s${detail ? ` (${detail})` : ''}`);
  phaseStart = Date.now();
  return seconds;
}

const loadSamples: number[] = [];
const loadTimer = setInterval(() => loadSamples.push(loadavg()[0]!), 10_000);
loadTimer.unref();

/** Peak resident set (VmHWM) of a live process, MiB; undefined once it has exited. */
function peakRssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}
const peakRss = new Map<string, number>();
function notePeak(name: string, mib: number | undefined): void {
  if (mib !== undefined) peakRss.set(name, Math.max(peakRss.get(name) ?? 0, mib));
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `ridetally <args>` as a child process, its peak RSS sampled from /proc every 250 ms. */
function runCli(
  label: string,
  args: string[],
  env: Record<string, string>,
  script = join(REPO_ROOT, 'services/cli/src/main.ts'),
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const sampler = setInterval(() => notePeak(label, peakRssMiB(child.pid)), 250);
    child.once('error', reject);
    child.once('close', (code) => {
      clearInterval(sampler);
      resolve({ code, stdout, stderr });
    });
  });
}

async function runCliOk(label: string, args: string[], env: Record<string, string>): Promise<CliRun> {
  const r = await runCli(label, args, env);
  if (r.code !== 0)
    throw new Error(`ridetally ${args[0]} exited ${r.code}: ${(r.stderr + r.stdout).slice(-2000)}`);
  return r;
}

/** A FetchLike that sends each request to the next of `urls` (a round-robin load balancer). */
function roundRobin(urls: readonly string[], base: string): FetchLike {
  let next = 0;
  return async (url, init) => {
    const res = await fetch(urls[next++ % urls.length]! + url.slice(base.length), init);
    const text = await res.text();
    return { status: res.status, headers: res.headers, text: () => Promise.resolve(text) };
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en');

async function pool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/**
 * REGISTER=direct: the rider app's registration and binding calls (the registry's registerPerson and
 * bindMedium, which `POST /v1/persons` and `POST /v1/persons/{id}/media` run) in this process,
 * without HTTP — the same rows, for runs where ~113,000 requests would take too long.
 */
async function registerDirect(
  db: Database,
  masterKey: string,
  persons: readonly SimPerson[],
  concurrency: number,
): Promise<{ personIds: Map<string, string>; stats: { registered: number; bindings: number } }> {
  const deps = { db, keyring: keyringFromEnv(masterKey), now: () => new Date() };
  const personIds = new Map<string, string>();
  const stats = { registered: 0, bindings: 0 };
  await pool(
    persons.filter((p) => p.registered),
    concurrency,
    async (person) => {
      const { personId } = await registerPerson(deps, {
        idNumber: person.idNumber,
        name: person.name,
        phone: person.phone,
      });
      personIds.set(person.ref, personId);
      stats.registered++;
      for (const m of person.media) {
        if (m.validFrom === null) continue;
        await bindMedium(deps, {
          personId,
          type: m.type,
          id: m.type === 'id_card' ? 'self' : m.id,
          kind: m.kind ?? undefined,
          validFrom: m.validFrom,
          validTo: m.validTo ?? undefined,
        });
        stats.bindings++;
      }
    },
  );
  return { personIds, stats };
}

/** RATINGS=bulk: ratings.ndjson into `ratings` in chunks (insertRatingsBulk); counts need a recompute after. */
async function loadRatingsBulk(
  db: Database,
  ratingsFile: string,
  personIds: ReadonlyMap<string, string>,
): Promise<{ ratings: number; inserted: number; missingTap: number; unknownPerson: number }> {
  const stats = { ratings: 0, inserted: 0, missingTap: 0, unknownPerson: 0 };
  const { createReadStream } = await import('node:fs');
  const { createInterface } = await import('node:readline');
  let chunk: BulkRating[] = [];
  const flush = async () => {
    const r = await insertRatingsBulk(db, chunk, 'scale-quarter-bulk');
    stats.inserted += r.inserted;
    stats.missingTap += r.missingTap;
    chunk = [];
  };
  for await (const line of createInterface({ input: createReadStream(ratingsFile), crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as RatingRecord;
    stats.ratings++;
    const personId = personIds.get(r.personRef);
    if (!personId) {
      stats.unknownPerson++;
      continue;
    }
    chunk.push({ personId, deviceId: r.deviceId, seq: r.seq, score: r.score, ratedAt: r.ratedAt });
    if (chunk.length >= 20_000) await flush();
  }
  if (chunk.length > 0) await flush();
  return stats;
}

// ------------------------------------------------------------------------------------ the run

async function main(): Promise<number> {
  const cleanup = createCleanup();
  const out = process.env.OUT ?? (await mkdtemp(join(tmpdir(), 'rt-scale-quarter-')));
  const services: NodeProcess[] = [];
  const report: Record<string, unknown> = { size, out, startedAt: new Date(started).toISOString() };
  let liveTaps: { stats: object; started: number } | undefined;
  const finishReport = (): void => {
    for (const s of services) notePeak(s.name, peakRssMiB(s.child.pid));
    notePeak(
      'driver (this process: generation, oracle, HTTP client)',
      Math.round(process.resourceUsage().maxRSS / 1024),
    );
    report.phases = phases;
    report.peakRssMiB = Object.fromEntries(peakRss);
    report.loadAverage = {
      min: Math.min(...loadSamples),
      mean: loadSamples.reduce((a, b) => a + b, 0) / Math.max(1, loadSamples.length),
      max: Math.max(...loadSamples),
    };
    report.totalSeconds = Math.round((Date.now() - started) / 1000);
  };
  // Stopped before the end (Ctrl-C, a deadline): say how far it got, then clean up.
  const stop = (signal: string) => {
    log(`${signal}: writing the partial report, cleaning up`);
    report.stoppedBy = signal;
    if (liveTaps && report.taps === undefined)
      report.tapsSoFar = { ...liveTaps.stats, seconds: (Date.now() - liveTaps.started) / 1000 };
    finishReport();
    const text = JSON.stringify(report, null, 2) + '\n';
    process.stdout.write(text);
    void writeFile(join(out, 'scale-quarter-report.partial.json'), text)
      .catch(() => undefined)
      .then(() => runAllCleanups())
      .then(() => process.exit(130));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  log(`size ${JSON.stringify(size)}; output ${out}`);
  try {
    // ---- setup
    let databaseUrl: string;
    const dbName = `scale_quarter_${Date.now()}`;
    if (size.pg === 'private') {
      const postgres = await startPrivatePostgres(cleanup);
      databaseUrl = await postgres.createDatabase(dbName);
    } else {
      const admin = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
      const adminHandle = await openDatabase({ url: admin, poolSize: 1 });
      await sql.raw(`CREATE DATABASE ${dbName}`).execute(adminHandle.db);
      await adminHandle.close();
      databaseUrl = admin.replace(/\/[^/]*$/, `/${dbName}`);
      if (!size.keepDb)
        cleanup.add(`drop ${dbName}`, async () => {
          const h = await openDatabase({ url: admin, poolSize: 1 });
          await sql.raw(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).execute(h.db);
          await h.close();
        });
    }
    const env: Record<string, string> = {
      DATABASE_URL: databaseUrl,
      RIDETALLY_MASTER_KEY: randomBytes(32).toString('base64'),
      DATABASE_POOL_SIZE: '5',
    };
    await runCliOk('cli migrate', ['migrate'], env);
    const simArgs = [
      '--seed',
      size.seed,
      '--scale',
      String(size.scale),
      '--days',
      String(size.days),
      '--start',
      size.start,
    ];
    await runCliOk(
      'cli simulate --setup-only',
      [
        'simulate',
        ...simArgs,
        '--out',
        out,
        '--url',
        'http://127.0.0.1:9',
        '--setup',
        'direct',
        '--setup-only',
      ],
      env,
    );
    const secrets = new Map<string, string>();
    for (const line of (await readFile(join(out, 'devices.ndjson'), 'utf8')).split('\n')) {
      if (!line.trim()) continue;
      const d = JSON.parse(line) as { deviceId: string; secret: string };
      secrets.set(d.deviceId, d.secret);
    }
    const clientToken = (JSON.parse(await readFile(join(out, 'client.json'), 'utf8')) as { token: string })
      .token;
    const redis = await startPrivateRedis(cleanup);

    const ingestUrls: string[] = [];
    const riderUrls: string[] = [];
    const starting: Promise<NodeProcess>[] = [];
    for (let i = 0; i < size.ingest; i++) {
      const port = await freePort();
      ingestUrls.push(`http://127.0.0.1:${port}`);
      starting.push(
        spawnService(
          cleanup,
          `tap-ingest-${i}`,
          'services/tap-ingest/src/main.ts',
          {
            ...env,
            NODE_ENV: 'production',
            PORT: String(port),
            INGEST_WORKERS: '1',
            DATABASE_POOL_SIZE: '6',
          },
          `http://127.0.0.1:${port}/readyz`,
        ),
      );
    }
    for (let i = 0; i < size.riderApps; i++) {
      const port = await freePort();
      riderUrls.push(`http://127.0.0.1:${port}`);
      starting.push(
        spawnService(
          cleanup,
          `rider-app-${i}`,
          'services/rider-app/src/main.ts',
          { ...env, NODE_ENV: 'production', PORT: String(port), DATABASE_POOL_SIZE: '6' },
          `http://127.0.0.1:${port}/readyz`,
        ),
      );
    }
    const rewardPort = await freePort();
    starting.push(
      spawnService(cleanup, 'reward', 'services/reward/src/main.ts', {
        ...env,
        NODE_ENV: 'production',
        PORT: String(rewardPort),
        DATABASE_POOL_SIZE: '2',
      }),
    );
    const aggregatorEnv = {
      ...env,
      NODE_ENV: 'production',
      REDIS_URL: redis.url,
      AGGREGATOR_QUEUE_PREFIX: `scale-quarter-${randomBytes(3).toString('hex')}`,
      AGGREGATOR_METRICS_PORT: '0',
      AGGREGATOR_CONCURRENCY: String(size.aggregatorConcurrency),
    };
    const aggregators: NodeProcess[] = [];
    if (size.counts === 'worker')
      for (let i = 0; i < size.aggregators; i++)
        starting.push(
          spawnService(cleanup, `aggregator-${i}`, 'services/aggregator/src/main.ts', aggregatorEnv).then(
            (p) => {
              aggregators.push(p);
              return p;
            },
          ),
        );
    services.push(...(await Promise.all(starting)));
    // Sample every service's peak RSS now and then (VmHWM is kept by the kernel; this only
    // remembers it for processes that are stopped before the end).
    const rssTimer = setInterval(() => {
      for (const s of services) notePeak(s.name, peakRssMiB(s.child.pid));
    }, 5000);
    cleanup.add('rss sampler', () => clearInterval(rssTimer));
    const city = generateCity({ seed: size.seed, scale: size.scale, start: size.start, days: size.days });
    endPhase(
      'setup',
      `migrate, city import (${city.persons.length} persons, ${secrets.size} devices), ${services.length} processes started`,
    );

    // ---- registrations through the rider app
    const riderBase = 'http://rider-apps';
    const rider = {
      baseUrl: riderBase,
      clientToken,
      concurrency: size.ratingConcurrency,
      fetch: roundRobin(riderUrls, riderBase),
      maxAttempts: 12,
    };
    const lookup = await openDatabase({ url: databaseUrl, poolSize: 4, applicationName: 'scale-quarter' });
    cleanup.add('close lookup pool', () => lookup.close());
    // With COUNTS=recompute nothing is counted while loading, so the riders register alongside the
    // taps (in the field, too, riders register while buses run); otherwise before them. In a child
    // process either way: this one's event loop is busy generating the traffic for seconds at a time.
    const registerStarted = Date.now();
    const registering = (async () => {
      const child = await runCli(
        'registration (child process)',
        ['--register-only'],
        {
          ...env,
          OUT: out,
          SQ_RIDER_URLS: riderUrls.join(','),
          SQ_CLIENT_TOKEN: clientToken,
        },
        join(REPO_ROOT, 'bench/scale-quarter.ts'),
      );
      if (child.code !== 0)
        throw new Error(`registration failed: ${(child.stderr + child.stdout).slice(-2000)}`);
      const stats = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as {
        registered: number;
        bindings: number;
      };
      const personIds = new Map(
        (await readFile(join(out, 'persons.csv'), 'utf8'))
          .split('\n')
          .slice(1)
          .filter((l) => l.includes(','))
          .map((l) => l.split(',') as [string, string]),
      );
      const seconds = (Date.now() - registerStarted) / 1000;
      const detail = `${stats.registered} riders, ${stats.bindings} bindings in ${fmt(seconds)} s (${size.register === 'http' ? 'rider-app API' : 'registry calls, no HTTP'})`;
      log(`registered: ${detail}`);
      return { personIds, detail };
    })();
    // Awaited below; a failure meanwhile must not be an unhandled rejection (it ends the process
    // without the cleanup).
    registering.catch(() => undefined);
    const alongside = size.counts === 'recompute';
    if (!alongside) endPhase('register', (await registering).detail);

    // ---- taps through tap-ingest
    const ingestBase = 'http://ingest';
    const poster = createTapPoster({
      baseUrl: ingestBase,
      secrets,
      concurrency: size.concurrency,
      maxAttempts: 12,
      fetch: roundRobin(ingestUrls, ingestBase),
    });
    const ratingsFile = join(out, 'ratings.ndjson');
    await writeFile(ratingsFile, '');
    let generatedTaps = 0;
    let waitMs = 0;
    const tapsStarted = Date.now();
    liveTaps = { stats: poster.stats, started: tapsStarted };
    const truth = await runSimulation(
      city,
      {
        async batches(batches) {
          const t = Date.now();
          for (const b of batches) await poster.post(b);
          waitMs += Date.now() - t;
        },
        async ratings(ratings) {
          if (ratings.length)
            await writeFile(
              ratingsFile,
              ratings.map((r) => JSON.stringify(toRatingRecord(r))).join('\n') + '\n',
              {
                flag: 'a',
              },
            );
        },
      },
      (p) => {
        generatedTaps += p.taps;
        if (p.dayIndex % 7 === 6 || p.dayIndex + 1 === p.days) {
          const s = (Date.now() - tapsStarted) / 1000;
          log(
            `day ${p.dayIndex + 1}/${p.days} ${p.date}: generated ${fmt(generatedTaps)} taps, accepted ${fmt(poster.stats.accepted)} (${fmt(poster.stats.accepted / s)}/s), retries ${poster.stats.retries}, driver RSS ${fmt(process.memoryUsage().rss / 2 ** 20)} MiB, load ${loadavg()[0]!.toFixed(1)}`,
          );
        }
      },
      { batchMinutes: size.batchMinutes },
    );
    await poster.drain();
    const tapsSeconds = (Date.now() - tapsStarted) / 1000;
    const taps = poster.stats;
    endPhase(
      'taps',
      `${fmt(taps.accepted)} accepted + ${fmt(taps.duplicates)} duplicates in ${fmt(taps.requests)} requests = ${fmt(taps.accepted / tapsSeconds)} taps/s; generation ${fmt((tapsSeconds * 1000 - waitMs) / 1000)} s of it`,
    );
    const { personIds, detail: registered } = await registering;
    if (alongside) endPhase('register (alongside the taps; time after them)', registered);
    const periods = await writeGroundTruth(city, truth, join(out, 'ground-truth'));
    report.truth = truth.totals;
    report.taps = { ...taps, seconds: tapsSeconds, tapsPerSecond: taps.accepted / tapsSeconds };

    // ---- ratings through the rider app (or bulk-loaded)
    const ratingsStarted = Date.now();
    if (size.ratings === 'bulk') {
      const bulk = await loadRatingsBulk(lookup.db, ratingsFile, personIds);
      const seconds = (Date.now() - ratingsStarted) / 1000;
      endPhase('ratings', `bulk-loaded: ${JSON.stringify(bulk)} = ${fmt(bulk.ratings / seconds)} ratings/s`);
      report.ratings = { ...bulk, seconds, path: 'bulk' };
    } else {
      let lastLog = Date.now();
      const ratings = await postRatingsByTapId(
        rider,
        ratingsFile,
        personIds,
        async (keys) => {
          const rows = await findTapIdsByDeviceSeq(lookup.db, keys);
          return new Map(rows.map((r) => [tapKey(r.device_id, r.seq), r.tap_id]));
        },
        (s) => {
          if (Date.now() - lastLog < 30_000) return;
          lastLog = Date.now();
          log(
            `ratings ${fmt(s.ratings)} (${fmt(s.ratings / ((Date.now() - ratingsStarted) / 1000))}/s), accepted ${fmt(s.accepted)}`,
          );
        },
      );
      const ratingsSeconds = (Date.now() - ratingsStarted) / 1000;
      endPhase(
        'ratings',
        `${fmt(ratings.ratings)} posted, ${fmt(ratings.accepted)} accepted, refused ${JSON.stringify(ratings.refused)}, ${ratings.duplicates} in an already rated ride, ${ratings.unresolved} unresolved = ${fmt(ratings.ratings / ratingsSeconds)} ratings/s`,
      );
      report.ratings = { ...ratings, seconds: ratingsSeconds, path: 'rider-app API' };
    }

    // ---- drain (the workers count), or recompute
    const pending = async (): Promise<number> => {
      const { rows } = await sql<{
        n: string;
      }>`SELECT count(*)::text AS n FROM outbox WHERE processed_at IS NULL`.execute(lookup.db);
      return Number(rows[0]!.n);
    };
    const workersOnly = 'the aggregator workers (incremental)';
    let countsBy: string =
      size.counts === 'recompute'
        ? 'recompute (no aggregator ran)'
        : size.ratings === 'bulk'
          ? 'the aggregator workers for the taps, then recompute (bulk-loaded ratings have no outbox rows)'
          : workersOnly;
    if (size.counts === 'worker') {
      const deadline = size.drainTimeoutS > 0 ? Date.now() + size.drainTimeoutS * 1000 : Infinity;
      let quiet = 0;
      let lastReport = 0;
      let left = await pending();
      while (quiet < 3) {
        left = await pending();
        quiet = left === 0 ? quiet + 1 : 0;
        if (Date.now() - lastReport > 30_000) {
          lastReport = Date.now();
          log(`drain: ${fmt(left)} outbox rows pending, load ${loadavg()[0]!.toFixed(1)}`);
        }
        if (Date.now() > deadline) break;
        await sleep(1000);
      }
      if (quiet < 3) {
        countsBy = `the aggregator workers until the drain timed out (${fmt(left)} outbox rows pending after ${size.drainTimeoutS} s), then recompute`;
        endPhase('drain', `timed out, ${fmt(left)} outbox rows pending`);
      } else endPhase('drain', 'outbox empty');
    }
    if (countsBy !== workersOnly) {
      for (const a of aggregators) {
        notePeak(a.name, peakRssMiB(a.child.pid));
        await a.kill('SIGTERM');
      }
      // A year's recompute rebuilds the rides of the whole year and the counts of the year and of
      // its quarters: quarters of a year in the list need no run of their own.
      const years = new Set(periods.filter((p) => /^\d{4}$/.test(p)));
      for (const period of periods.filter((p) => years.has(p) || !years.has(p.slice(0, 4)))) {
        await runCliOk(`cli recompute ${period}`, ['recompute', '--period', period], env);
        endPhase(`recompute ${period}${years.has(period) ? ' (with its quarters)' : ''}`);
      }
    }
    report.countsBy = countsBy;
    const { rows: stored } = await sql<{ taps: string; keys: string }>`
      SELECT (SELECT count(*) FROM taps)::text AS taps, (SELECT count(*) FROM tap_keys)::text AS keys`.execute(
      lookup.db,
    );
    report.stored = { taps: Number(stored[0]!.taps), tapKeys: Number(stored[0]!.keys) };

    // ---- verify
    const verify = await runCli('cli verify', ['verify', '--against', out, '--json'], env);
    let differences = 0;
    let verifyResult: unknown;
    try {
      const v = JSON.parse(verify.stdout.trim().split('\n').at(-1)!) as {
        counts: unknown[];
        rankings: unknown[];
        volume: unknown[];
      };
      differences = v.counts.length + v.rankings.length + v.volume.length;
      verifyResult = {
        counts: v.counts.length,
        rankings: v.rankings.length,
        volume: v.volume.length,
        examples: [...v.counts.slice(0, 3), ...v.rankings.slice(0, 2), ...v.volume.slice(0, 2)],
      };
    } catch {
      differences = 1;
      verifyResult = { exit: verify.code, output: (verify.stderr + verify.stdout).slice(-1000) };
    }
    endPhase('verify', `${differences} differences`);
    report.verify = verifyResult;
    if (size.check) {
      const checks: Record<string, number | null> = {};
      for (const period of periods) {
        const c = await runCli(
          `cli recompute --check ${period}`,
          ['recompute', '--period', period, '--check'],
          env,
        );
        checks[period] = c.code;
        if (c.code !== 0) {
          differences++;
          log(
            `recompute --check ${period}: exit ${c.code} ${(c.stdout + c.stderr).trim().split('\n').slice(-3).join(' | ')}`,
          );
        }
        endPhase(`check ${period}`, `exit ${c.code}`);
      }
      report.checks = checks;
    }

    finishReport();
    report.differences = differences;
    await writeFile(join(out, 'scale-quarter-report.json'), JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    const failed = Object.keys(taps.failed).length > 0;
    log(
      `done: ${differences} differences; counts by ${countsBy}${failed ? `; failed batches ${JSON.stringify(taps.failed)}` : ''}`,
    );
    return differences === 0 && !failed ? 0 : 1;
  } finally {
    await cleanup.run();
  }
}

process.on('uncaughtException', (err) => {
  log(`uncaught exception: ${err.stack ?? err.message}`);
  void runAllCleanups().then(() => process.exit(1));
});
process.on('unhandledRejection', (err) => {
  log(`unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  void runAllCleanups().then(() => process.exit(1));
});

/** `--register-only`: the registration child (see main); prints its stats as one JSON line. */
async function registrationMain(): Promise<number> {
  const out = process.env.OUT!;
  const city = generateCity({ seed: size.seed, scale: size.scale, start: size.start, days: size.days });
  const handle = await openDatabase({
    url: process.env.DATABASE_URL!,
    poolSize: size.registerConcurrency + 2,
    applicationName: 'scale-quarter-register',
  });
  try {
    const base = 'http://rider-apps';
    const { personIds, stats } =
      size.register === 'http'
        ? await registerRiders(
            {
              baseUrl: base,
              clientToken: process.env.SQ_CLIENT_TOKEN!,
              concurrency: size.registerConcurrency,
              fetch: roundRobin(process.env.SQ_RIDER_URLS!.split(','), base),
              maxAttempts: 12,
            },
            city.persons,
          )
        : await registerDirect(
            handle.db,
            process.env.RIDETALLY_MASTER_KEY!,
            city.persons,
            size.registerConcurrency,
          );
    await writeFile(join(out, 'persons.csv'), personsCsv(personIds));
    process.stdout.write(JSON.stringify(stats) + '\n');
    return 0;
  } finally {
    await handle.close();
  }
}

(process.argv.includes('--register-only') ? registrationMain() : main()).then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    void runAllCleanups().then(() => process.exit(1));
  },
);
