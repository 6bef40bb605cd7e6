/**
 * One fault scenario end to end: a fresh database, a private Redis, 2 tap-ingest + 3 aggregator
 * processes (and a rider-app for registrations and ratings), the simulator's traffic posted
 * round-robin to both ingest replicas, a fault injected in one phase — while the taps are uploaded,
 * while the ratings are posted, or while the aggregators drain a backlog (started only after taps
 * and ratings are in) — then the checks: every acknowledged tap stored, none twice, the live counts
 * equal to `recompute --check` and to the simulator's ground truth.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openDatabase, sql } from '../../packages/db/src/index';
import {
  createTapPoster,
  generateCity,
  personsCsv,
  postRatings,
  registerRiders,
  toRatingRecord,
  runSimulation,
  writeGroundTruth,
  type FetchLike,
  type TapBatch,
} from '../../packages/simulator/src/index';
import {
  createCleanup,
  freePort,
  runCli,
  runCliOk,
  sleep,
  spawnService,
  startPrivatePostgres,
  startPrivateRedis,
  tempDir,
  type Cleanup,
  type NodeProcess,
  type PrivatePostgres,
  type PrivateRedis,
} from './fault-kit';

export type FaultName =
  | 'replicas'
  | 'worker-sigkill'
  | 'redis-restart'
  | 'redis-flushall'
  | 'postgres-restart'
  | 'replay'
  | 'ratings-sigkill'
  | 'ratings-flushall'
  | 'drain-sigkill'
  | 'drain-flushall';

export const FAULTS: readonly FaultName[] = [
  'replicas',
  'worker-sigkill',
  'redis-restart',
  'redis-flushall',
  'postgres-restart',
  'replay',
  'ratings-sigkill',
  'ratings-flushall',
  'drain-sigkill',
  'drain-flushall',
];

/** When a fault strikes: during the tap upload, while ratings are posted, or mid-drain of a backlog. */
export type FaultPhase = 'taps' | 'ratings' | 'drain';
type FaultAction = 'none' | 'sigkill' | 'redis-restart' | 'flushall' | 'postgres-restart';

const PLAN: Record<FaultName, { phase: FaultPhase; action: FaultAction }> = {
  replicas: { phase: 'taps', action: 'none' },
  'worker-sigkill': { phase: 'taps', action: 'sigkill' },
  'redis-restart': { phase: 'taps', action: 'redis-restart' },
  'redis-flushall': { phase: 'taps', action: 'flushall' },
  'postgres-restart': { phase: 'taps', action: 'postgres-restart' },
  replay: { phase: 'taps', action: 'none' },
  'ratings-sigkill': { phase: 'ratings', action: 'sigkill' },
  'ratings-flushall': { phase: 'ratings', action: 'flushall' },
  'drain-sigkill': { phase: 'drain', action: 'sigkill' },
  'drain-flushall': { phase: 'drain', action: 'flushall' },
};

export function faultPhase(fault: FaultName): FaultPhase {
  return PLAN[fault].phase;
}

export interface FaultSize {
  seed: number;
  scale: number;
  days: number;
  start: string;
  /** Taps per second the validators send at most (stretches the load so the fault lands mid-load). */
  rate: number;
  concurrency: number;
  /** When the fault (the first one, for worker-sigkill) hits, after the load started. */
  faultAfterMs: number;
  /** Ratings phase: when the fault hits after the first rating is sent. */
  ratingsFaultAfterMs: number;
  /** Drain phase: the fault hits once this share of the outbox backlog has been processed. */
  drainFaultAt: number;
  /** drain-sigkill: SIGKILLs at most (one every 2 s). */
  drainKills: number;
}

export function sizeFromEnv(env: NodeJS.ProcessEnv = process.env): FaultSize {
  const num = (name: string, fallback: number) => {
    const v = env[name];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number`);
    return n;
  };
  return {
    seed: num('FAULT_SEED', 8),
    scale: num('FAULT_SCALE', 0.008),
    days: Math.round(num('FAULT_DAYS', 2)),
    start: env.FAULT_START ?? '2022-06-29',
    rate: num('FAULT_RATE', 250),
    concurrency: Math.round(num('FAULT_CONCURRENCY', 8)),
    faultAfterMs: num('FAULT_AFTER_MS', 3000),
    ratingsFaultAfterMs: num('FAULT_RATINGS_AFTER_MS', 1000),
    drainFaultAt: Math.min(0.9, num('FAULT_DRAIN_AT', 0.2)),
    drainKills: Math.round(num('FAULT_DRAIN_KILLS', 4)),
  };
}

export interface FaultResult {
  fault: FaultName;
  acked: number;
  stored: number;
  /** Acknowledged taps missing from tap_keys (a 200 without commit). */
  missing: number;
  duplicates: number;
  /** recompute --check differences + verify (ground truth) differences. */
  differences: number;
  passed: boolean;
  seconds: number;
  /** Mean 1-minute load average of the machine during the scenario (set by the runner). */
  load?: number;
  notes: string[];
}

/** Where the database comes from: a private PostgreSQL (which the postgres-restart fault restarts) or a given URL. */
export type DatabaseSource =
  { kind: 'private'; postgres: PrivatePostgres } | { kind: 'url'; url: string; migrated: boolean };

interface Acks {
  /** deviceId → acknowledged seqs. */
  seqs: Map<string, Set<number>>;
  statuses: Map<number, number>;
  networkErrors: number;
}

function countAcked(acks: Acks): number {
  let n = 0;
  for (const s of acks.seqs.values()) n += s.size;
  return n;
}

/** A fetch for the tap poster: round-robin over the ingest replicas, recording what a 200 acknowledged. */
function recordingFetch(urls: readonly string[], acks: Acks, baseUrl: string): FetchLike {
  let next = 0;
  return async (url, init) => {
    const target = urls[next++ % urls.length]! + url.slice(baseUrl.length);
    let res: Response;
    try {
      res = await fetch(target, init);
    } catch (err) {
      acks.networkErrors++;
      throw err;
    }
    const text = await res.text();
    acks.statuses.set(res.status, (acks.statuses.get(res.status) ?? 0) + 1);
    if (res.status === 200 && init.body) {
      const device = init.headers['x-device-id']!;
      const sent = (JSON.parse(init.body) as { taps: { seq: number }[] }).taps.map((t) => t.seq);
      const refused = new Set(
        ((JSON.parse(text) as { rejected?: { seq: number | null }[] }).rejected ?? []).map((r) => r.seq),
      );
      let set = acks.seqs.get(device);
      if (!set) acks.seqs.set(device, (set = new Set()));
      for (const seq of sent) if (!refused.has(seq)) set.add(seq);
    }
    return { status: res.status, headers: res.headers, text: () => Promise.resolve(text) };
  };
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export async function runFaultScenario(
  fault: FaultName,
  size: FaultSize,
  source?: DatabaseSource,
  log: (line: string) => void = (line) => process.stderr.write(`[${fault}] ${line}\n`),
): Promise<FaultResult> {
  const started = Date.now();
  const cleanup = createCleanup();
  const notes: string[] = [];
  const rawLog = log;
  log = (line) => rawLog(`${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s  ${line}`);
  try {
    return await scenario(fault, size, source, cleanup, notes, log, started);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`failed: ${message}`);
    notes.push(`error: ${message.split('\n')[0]!.slice(0, 300)}`);
    return {
      fault,
      acked: 0,
      stored: 0,
      missing: 0,
      duplicates: 0,
      differences: 0,
      passed: false,
      seconds: Math.round((Date.now() - started) / 1000),
      notes,
    };
  } finally {
    await cleanup.run();
  }
}

async function scenario(
  fault: FaultName,
  size: FaultSize,
  given: DatabaseSource | undefined,
  cleanup: Cleanup,
  notes: string[],
  log: (line: string) => void,
  started: number,
): Promise<FaultResult> {
  let postgres: PrivatePostgres | undefined;
  let databaseUrl: string;
  if (given?.kind === 'url') databaseUrl = given.url;
  else {
    postgres = given?.postgres ?? (await startPrivatePostgres(cleanup));
    databaseUrl = await postgres.createDatabase(`faults_${fault.replace(/-/g, '_')}_${Date.now()}`);
  }
  const { phase, action } = PLAN[fault];
  if (fault === 'postgres-restart' && !postgres)
    throw new Error('postgres-restart needs a private PostgreSQL');
  const redis: PrivateRedis = await startPrivateRedis(cleanup);
  const out = await tempDir(cleanup, fault);
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    RIDETALLY_MASTER_KEY: randomBytes(32).toString('base64'),
    DATABASE_POOL_SIZE: '5',
  };
  if (given?.kind !== 'url' || !given.migrated) await runCliOk(['migrate'], env);
  const simArgs = [
    '--seed',
    String(size.seed),
    '--scale',
    String(size.scale),
    '--days',
    String(size.days),
    '--start',
    size.start,
  ];
  await runCliOk(
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
  log(`database migrated, city set up (${secrets.size} devices)`);

  // ---- processes: rider-app, 2 × tap-ingest, 3 × aggregator (for a drain fault: started after the load)
  const riderPort = await freePort();
  const riderUrl = `http://127.0.0.1:${riderPort}`;
  const ingestPorts = [await freePort(), await freePort()];
  const ingestUrls = ingestPorts.map((port) => `http://127.0.0.1:${port}`);
  const aggregatorEnv = {
    ...env,
    REDIS_URL: redis.url,
    AGGREGATOR_QUEUE_PREFIX: `faults-${fault}`,
    AGGREGATOR_METRICS_PORT: '0',
    AGGREGATOR_STALE_SECONDS: '3',
  };
  let spawned = 0;
  const startAggregator = () =>
    spawnService(cleanup, `aggregator-${spawned++}`, 'services/aggregator/src/main.ts', aggregatorEnv);
  // Started side by side: start-up (tsx compiling) is most of a small scenario's fixed cost.
  const [, , , ...aggregators] = await Promise.all([
    spawnService(
      cleanup,
      'rider-app',
      'services/rider-app/src/main.ts',
      // Its per-client rate limit in the private Redis, as deployed (a FLUSHALL empties the buckets).
      { ...env, PORT: String(riderPort), REDIS_URL: redis.url },
      `${riderUrl}/readyz`,
    ),
    ...ingestPorts.map((port, i) =>
      spawnService(
        cleanup,
        `tap-ingest-${i}`,
        'services/tap-ingest/src/main.ts',
        { ...env, PORT: String(port), INGEST_WORKERS: '1' },
        `http://127.0.0.1:${port}/readyz`,
      ),
    ),
    ...(phase === 'drain' ? [] : [startAggregator(), startAggregator(), startAggregator()]),
  ]);
  log(`running: rider-app, ${ingestUrls.length} tap-ingest, ${aggregators.length} aggregators`);
  const handle = await openDatabase({ url: databaseUrl, poolSize: 2 });
  cleanup.add('close check pool', () => handle.close());
  const pendingOutbox = async (): Promise<number> => {
    const { rows } = await sql<{
      n: string;
    }>`SELECT count(*)::text AS n FROM outbox WHERE processed_at IS NULL`.execute(handle.db);
    return Number(rows[0]!.n);
  };

  // ---- registrations, then the taps with the fault mid-load
  const city = generateCity({ seed: size.seed, scale: size.scale, start: size.start, days: size.days });
  log('processes ready');
  const { personIds } = await registerRiders(
    { baseUrl: riderUrl, clientToken, concurrency: 4 },
    city.persons,
  );
  await writeFile(join(out, 'persons.csv'), personsCsv(personIds));

  const acks: Acks = { seqs: new Map(), statuses: new Map(), networkErrors: 0 };
  const base = 'http://replicas';
  const poster = createTapPoster({
    baseUrl: base,
    secrets,
    concurrency: size.concurrency,
    rate: size.rate,
    maxAttempts: 12,
    fetch: recordingFetch(ingestUrls, acks, base),
  });
  const allBatches: TapBatch[] = [];
  let loadDone = false;
  const ratingsFile = join(out, 'ratings.ndjson');
  await writeFile(ratingsFile, '');
  const loadStarted = Date.now();
  const context = (isDone: () => boolean): FaultContext => ({
    redis,
    postgres,
    aggregators,
    startAggregator,
    isDone,
    notes,
    log,
  });
  const faultTask =
    phase === 'taps'
      ? injectFault(
          action,
          'during the tap load',
          size.faultAfterMs,
          context(() => loadDone),
        )
      : Promise.resolve();
  let truth;
  try {
    truth = await runSimulation(city, {
      async batches(batches) {
        for (const b of batches) {
          allBatches.push(b);
          await poster.post(b);
        }
      },
      async ratings(ratings) {
        if (ratings.length)
          await writeFile(
            ratingsFile,
            ratings.map((r) => JSON.stringify(toRatingRecord(r))).join('\n') + '\n',
            { flag: 'a' },
          );
      },
    });
    await poster.drain();
  } finally {
    loadDone = true;
    await faultTask;
  }
  const loadSeconds = (Date.now() - loadStarted) / 1000;
  log(
    `load done in ${loadSeconds.toFixed(1)} s: ${countAcked(acks)} taps acknowledged, statuses ${JSON.stringify(Object.fromEntries(acks.statuses))}`,
  );
  if (loadSeconds * 1000 < size.faultAfterMs && phase === 'taps' && action !== 'none')
    notes.push(
      `load (${loadSeconds.toFixed(1)} s) ended before the fault was due: raise FAULT_SCALE/FAULT_DAYS or lower FAULT_RATE`,
    );
  await writeGroundTruth(city, truth, join(out, 'ground-truth'));
  let ratingsDone = false;
  const ratingsStarted = Date.now();
  const ratingsFault =
    phase === 'ratings'
      ? injectFault(
          action,
          'while ratings were posted',
          size.ratingsFaultAfterMs,
          context(() => ratingsDone),
        )
      : Promise.resolve();
  let rated;
  try {
    rated = await postRatings({ baseUrl: riderUrl, clientToken, concurrency: 4 }, ratingsFile, personIds);
  } finally {
    ratingsDone = true;
    await ratingsFault;
  }
  const ratingSeconds = (Date.now() - ratingsStarted) / 1000;
  log(`ratings in ${ratingSeconds.toFixed(1)} s: ${JSON.stringify(rated)}`);
  if (phase === 'ratings' && ratingSeconds * 1000 < size.ratingsFaultAfterMs)
    notes.push(
      `ratings (${ratingSeconds.toFixed(1)} s) ended before the fault was due: raise FAULT_SCALE/FAULT_DAYS or lower FAULT_RATINGS_AFTER_MS`,
    );

  if (fault === 'replay') {
    // The validator's whole history, twice, out of order, from two parallel senders (no per-device chaining between them).
    const before = countAcked(acks);
    const replayers = [1, 2].map(() =>
      createTapPoster({
        baseUrl: base,
        secrets,
        concurrency: size.concurrency,
        maxAttempts: 12,
        fetch: recordingFetch(ingestUrls, acks, base),
      }),
    );
    await Promise.all(
      replayers.map(async (p, i) => {
        for (const b of shuffled(allBatches, size.seed * 7 + i)) await p.post({ ...b, resend: true });
        await p.drain();
      }),
    );
    notes.push(
      `replayed ${allBatches.length} batches × 2 in parallel; acknowledged set ${before} → ${countAcked(acks)}`,
    );
  }
  const serverErrors = [...acks.statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
  if (serverErrors > 0)
    notes.push(
      `${serverErrors} answers 5xx (${[...acks.statuses]
        .filter(([s]) => s >= 500)
        .map(([s, c]) => `${s}×${c}`)
        .join(', ')}), retried`,
    );

  if (phase === 'drain') {
    // The backlog: every batch and rating committed while no aggregator ran. Start three and strike
    // once they are draining it.
    const backlog = await pendingOutbox();
    const drainStarted = Date.now();
    let drained = false;
    let pending = backlog;
    const drainDeadline = Date.now() + 600_000;
    const poll = (async () => {
      while (!drained && Date.now() < drainDeadline) {
        pending = await pendingOutbox();
        if (pending === 0) drained = true;
        else await sleep(100);
      }
    })();
    aggregators.push(...(await Promise.all([startAggregator(), startAggregator(), startAggregator()])));
    log(`backlog of ${backlog} outbox rows; 3 aggregators started`);
    const threshold = backlog * (1 - size.drainFaultAt);
    while (!drained && pending > threshold && Date.now() < drainDeadline) await sleep(50);
    if (drained)
      notes.push(
        `the backlog (${backlog} rows) drained before the fault was due: raise FAULT_SCALE/FAULT_DAYS`,
      );
    else {
      notes.push(`backlog ${backlog} outbox rows; fault at ${pending} pending`);
      // At most FAULT_DRAIN_KILLS SIGKILLs (4): a replacement needs seconds to start (tsx), so killing
      // every 2 s until the outbox is empty would, on a loaded machine, leave nobody draining it.
      await injectFault(
        action,
        'mid-drain',
        0,
        context(() => drained || Date.now() > drainDeadline),
        size.drainKills,
      );
    }
    await poll.catch(() => undefined);
    log(`backlog drained in ${((Date.now() - drainStarted) / 1000).toFixed(1)} s`);
  }

  // ---- settle: every outbox row processed
  // Generous: after a SIGKILL storm the replacements compile (tsx) before they drain, slowly at load 30+.
  const settleDeadline = Date.now() + 600_000;
  let quiet = 0;
  while (quiet < 3) {
    const { rows } = await sql<{
      n: string;
    }>`SELECT count(*)::text AS n FROM outbox WHERE processed_at IS NULL`.execute(handle.db);
    quiet = Number(rows[0]!.n) === 0 ? quiet + 1 : 0;
    if (Date.now() > settleDeadline) {
      notes.push(`outbox not drained after 600 s (${rows[0]!.n} rows pending)`);
      break;
    }
    await sleep(500);
  }

  log('aggregation settled');
  // ---- checks
  const stored = new Map<string, Set<number>>();
  const { rows: keyRows } = await sql<{
    device_id: string;
    seq: string;
  }>`SELECT device_id, seq::text AS seq FROM tap_keys`.execute(handle.db);
  for (const r of keyRows) {
    let set = stored.get(r.device_id);
    if (!set) stored.set(r.device_id, (set = new Set()));
    set.add(Number(r.seq));
  }
  const { rows: dupRows } = await sql<{ n: string }>`
    SELECT (SELECT count(*) FROM (SELECT 1 FROM tap_keys GROUP BY device_id, seq HAVING count(*) > 1) k)
         + (SELECT count(*) FROM (SELECT 1 FROM taps GROUP BY device_id, seq HAVING count(*) > 1) t) AS n`.execute(
    handle.db,
  );
  const duplicates = Number(dupRows[0]!.n);
  let missing = 0;
  for (const [device, seqs] of acks.seqs)
    for (const seq of seqs) if (!stored.get(device)?.has(seq)) missing++;
  const acked = countAcked(acks);
  if (keyRows.length > acked)
    notes.push(`${keyRows.length - acked} stored taps never acknowledged (committed, answer lost)`);
  if (acked !== truth.totals.taps)
    notes.push(`acknowledged ${acked} of the ${truth.totals.taps} simulated taps`);

  const summary = JSON.parse(await readFile(join(out, 'ground-truth/summary.json'), 'utf8')) as {
    periods: string[];
  };
  let differences = 0;
  // The checks read only: run them side by side.
  const [checks, verify] = await Promise.all([
    Promise.all(summary.periods.map((period) => runCli(['recompute', '--period', period, '--check'], env))),
    runCli(['verify', '--against', out, '--json'], env),
  ]);
  for (const [i, check] of checks.entries()) {
    if (check.code !== 0) {
      differences += Math.max(1, countDifferenceLines(check.stdout));
      notes.push(
        `recompute --check ${summary.periods[i]}: exit ${check.code}, ${(check.stdout + check.stderr).trim().split('\n').slice(-3).join(' | ').slice(0, 300)}`,
      );
    }
  }
  try {
    const v = JSON.parse(verify.stdout.trim().split('\n').at(-1)!) as {
      counts: unknown[];
      rankings: unknown[];
      volume: unknown[];
    };
    const n = v.counts.length + v.rankings.length + v.volume.length;
    if (n > 0)
      notes.push(
        `verify: ${v.counts.length} count, ${v.rankings.length} ranking, ${v.volume.length} volume differences, e.g. ${JSON.stringify([...v.counts.slice(0, 3), ...v.rankings.slice(0, 2), ...v.volume.slice(0, 2)])}`,
      );
    differences += n;
  } catch {
    differences += 1;
    notes.push(`verify exit ${verify.code}: ${(verify.stderr + verify.stdout).slice(-300)}`);
  }

  log('checked');
  const passed =
    missing === 0 &&
    duplicates === 0 &&
    differences === 0 &&
    acked > 0 &&
    !notes.some((n) => n.startsWith('outbox not drained'));
  return {
    fault,
    acked,
    stored: keyRows.length,
    missing,
    duplicates,
    differences,
    passed,
    seconds: Math.round((Date.now() - started) / 1000),
    notes,
  };
}

function countDifferenceLines(stdout: string): number {
  const m = /(\d+) differences?/.exec(stdout);
  return m ? Number(m[1]) : 0;
}

interface FaultContext {
  redis: PrivateRedis;
  postgres: PrivatePostgres | undefined;
  aggregators: NodeProcess[];
  startAggregator(): Promise<NodeProcess>;
  /** The phase the fault belongs to is over (load sent, ratings posted, backlog drained). */
  isDone(): boolean;
  notes: string[];
  log(line: string): void;
}

async function waitUnlessDone(ctx: FaultContext, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (ctx.isDone()) return false;
    await sleep(Math.min(100, until - Date.now()));
  }
  return !ctx.isDone();
}

/** Waits `afterMs` into the phase (unless it ends first), then strikes; `when` is for the notes. */
async function injectFault(
  action: FaultAction,
  when: string,
  afterMs: number,
  ctx: FaultContext,
  maxKills = Infinity,
): Promise<void> {
  if (action === 'none') return;
  if (!(await waitUnlessDone(ctx, afterMs))) return;
  switch (action) {
    case 'sigkill': {
      let kills = 0;
      do {
        const i = Math.floor(Math.random() * ctx.aggregators.length);
        const victim = ctx.aggregators[i]!;
        await victim.kill('SIGKILL');
        kills++;
        ctx.aggregators[i] = await ctx.startAggregator();
      } while (kills < maxKills && (await waitUnlessDone(ctx, 2000)));
      ctx.notes.push(`${kills} aggregator SIGKILLs ${when} (one every 2 s, each replaced)`);
      ctx.log(`${kills} SIGKILLs`);
      return;
    }
    case 'redis-restart':
      await ctx.redis.restart(2000);
      ctx.notes.push(`redis shut down (nosave) ${when}, restarted empty after 2 s`);
      ctx.log('redis restarted');
      return;
    case 'flushall':
      await ctx.redis.flushAll();
      ctx.notes.push(`FLUSHALL ${when}`);
      ctx.log('redis flushed');
      return;
    case 'postgres-restart':
      await ctx.postgres!.restart(3000);
      ctx.notes.push(`postgres stopped -m immediate ${when}, started after 3 s`);
      ctx.log('postgres restarted');
      return;
  }
}
