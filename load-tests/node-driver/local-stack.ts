/**
 * `pnpm bench:load --local`: a throw-away ridetally on this machine for the load driver — a fresh
 * database on the local PostgreSQL, migrated by the CLI, the services started as separate
 * processes (as in production, so each one's memory can be read), and a synthetic population
 * registered through the real APIs: persons and their transit cards through the rider-app API, a
 * month of their taps through tap-ingest with signed batches, a rider-app client and (when the
 * reward service has its CLI command) a staff user. Everything is removed again by close().
 *
 * With `aggregator` (default) a private redis-server on a free port is started too, as a child
 * process, and an aggregator drains the outbox while the taps arrive; the services get that Redis
 * (their rate limiters use it, as deployed). The shared Redis is never used.
 *
 * Memory: every Node service is started with heap-probe.ts, so the driver sees its V8 heap besides
 * its RSS; the PostgreSQL backends serving the load database are a group whose pids are refreshed
 * from pg_stat_activity every 2 s. The seeding's tap upload is watched like a mix (`seedUsage`):
 * that is tap-ingest (and the aggregator) under load.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchProcesses, type HeapSample, type ProcessUsage, type WatchedGroup, type WatchedProcess } from './stats';

const ROOT = join(import.meta.dirname, '..', '..');

export interface LocalStackOptions {
  /** Admin connection to the local PostgreSQL, used to create and drop the throw-away database. */
  adminUrl: string;
  persons: number;
  devices: number;
  /** Rides each person rates through the rider-app API during seeding (so that rides count, R5). */
  ratingsPerPerson: number;
  /** Shanghai dates (inclusive) of the synthetic taps. */
  from: string;
  to: string;
  /** Start a private Redis and an aggregator (default true). */
  aggregator?: boolean;
  log: (line: string) => void;
}

export interface LocalStack {
  env: NodeJS.ProcessEnv;
  processes: WatchedProcess[];
  /** PostgreSQL backends of the load database (pids refreshed every 2 s). */
  groups: WatchedGroup[];
  /** Memory and CPU while the taps were uploaded through tap-ingest (and, with an aggregator, drained). */
  seedUsage: { label: string; seconds: number; processes: ProcessUsage[] };
  /** Why the staff mix cannot run here; undefined when it can. */
  staffProblem: string | undefined;
  seeded: { persons: number; taps: number; tapsPerSecond: number };
  close(): Promise<void>;
}

/** A valid 18-character resident ID number (GB 11643 check digit) for synthetic person `i`. */
export function syntheticIdNumber(i: number): string {
  const birth = new Date(Date.UTC(1970, 0, 1) + (i % 12_000) * 86_400_000 + 3_650 * 86_400_000);
  const ymd = birth.toISOString().slice(0, 10).replace(/-/g, '');
  const body = `141102${ymd}${String(Math.floor(i / 12_000) * 7 + (i % 997)).padStart(3, '0').slice(-3)}`;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body].reduce((s, d, k) => s + Number(d) * weights[k]!, 0);
  return body + '10X98765432'[sum % 11]!;
}

/** The quarters and years (2022-Q3, 2022) that the Shanghai dates from..to touch. */
export function periodsBetween(from: string, to: string): string[] {
  const out = new Set<string>();
  const [fy, fm] = from.split('-').map(Number) as [number, number];
  const [ty, tm] = to.split('-').map(Number) as [number, number];
  for (let y = fy, m = fm; y < ty || (y === ty && m <= tm); m === 12 ? ((y += 1), (m = 1)) : (m += 1)) {
    out.add(`${y}-Q${Math.ceil(m / 3)}`);
  }
  for (let y = fy; y <= ty; y++) out.add(String(y));
  return [...out];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function psql(adminUrl: string, statement: string): void {
  const r = spawnSync('psql', [adminUrl, '-v', 'ON_ERROR_STOP=1', '-qc', statement], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
}

/** pids of the backends connected to `db` (async psql, so sampling never blocks the driver). */
function backendPids(adminUrl: string, db: string): Promise<number[]> {
  return new Promise((resolve) => {
    const child = spawn('psql', [adminUrl, '-Atc', `select pid from pg_stat_activity where datname = '${db}'`], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', () => resolve([]));
    child.once('close', () => resolve(out.split('\n').filter((l) => /^\d+$/.test(l.trim())).map(Number)));
  });
}

function cli(env: NodeJS.ProcessEnv, args: string[], input?: string): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'services/cli/src/main.ts', ...args], { cwd: ROOT, env, encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`ridetally ${args[0]} ${args[1] ?? ''} failed (${r.status}): ${r.stderr.slice(0, 2000)}`);
  return r.stdout;
}

async function waitReady(url: string, child: ChildProcess, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      // Listening and not failing: /readyz answers 200, or 404 from a service that has no /readyz
      // (503 means the service is up but its database is not).
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

/** Runs `tasks` with at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await task(items[i]!, i);
    }
  });
  await Promise.all(workers);
}

/**
 * fetch, retried when the request never got an answer (a kept-alive socket the server had just
 * closed, a reset) or was refused by a rate limit (429: after its Retry-After, as a well-behaved
 * client does; seeding runs faster than the rider app's per-client limit): seeding requests are
 * idempotent (persons by ID number, taps by device and seq) or answer 409 on a repeat, as a
 * validator's retry would.
 */
async function fetchRetrying(url: string, init: RequestInit, attempts = 4): Promise<Response> {
  for (let i = 1, limited = 0; ; i++) {
    try {
      const res = await fetch(url, init);
      if (res.status === 429 && limited++ < 100) {
        await res.arrayBuffer();
        i--;
        await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') ?? 1) + Math.random() * 200));
        continue;
      }
      return res;
    } catch (err) {
      if (i >= attempts) {
        const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
        throw new Error(`${init.method ?? 'GET'} ${url}: ${err instanceof Error ? err.message : String(err)}${cause}`);
      }
      await new Promise((r) => setTimeout(r, 200 * i));
    }
  }
}

async function postJson(url: string, token: string, body: unknown, alsoOk: number[] = []): Promise<unknown> {
  const res = await fetchRetrying(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  if (alsoOk.includes(res.status)) return undefined;
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** Deterministic pseudo-random numbers (mulberry32), so two runs seed the same population. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Tap {
  seq: number;
  tappedAt: string;
  vehicleId: string;
  routeId: string;
  stopId: string;
  media: { type: 'transit_card'; id: string; cardKind: 'normal' };
}

/** Two rides on each working day between from and to (07:00-09:00 and 17:00-19:00), 10 % double taps. */
function syntheticTaps(cards: readonly string[], devices: readonly { id: string; vehicle: string }[], from: string, to: string): Map<string, Tap[]> {
  const random = prng(20_260_101);
  const byDevice = new Map<string, Tap[]>(devices.map((d) => [d.id, []]));
  const start = Date.parse(`${from}T00:00:00+08:00`);
  const end = Date.parse(`${to}T00:00:00+08:00`);
  for (let day = start; day <= end; day += 86_400_000) {
    const weekday = new Date(day + 8 * 3_600_000).getUTCDay();
    if (weekday === 0 || weekday === 6) continue;
    for (const card of cards) {
      for (const baseHour of [7, 17]) {
        const device = devices[Math.floor(random() * devices.length)]!;
        const at = day + baseHour * 3_600_000 + Math.floor(random() * 7_200_000);
        const taps = random() < 0.1 ? [at, at + 4_000] : [at];
        for (const t of taps) {
          const list = byDevice.get(device.id)!;
          list.push({
            seq: list.length + 1,
            tappedAt: new Date(t).toISOString(),
            vehicleId: device.vehicle,
            routeId: `LR${1 + (Number(device.vehicle.slice(2)) % 5)}`,
            stopId: `S${1 + Math.floor(random() * 20)}`,
            media: { type: 'transit_card', id: card, cardKind: 'normal' },
          });
        }
      }
    }
  }
  return byDevice;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { log } = options;
  const dbName = `rt_load_${Date.now().toString(36)}_${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'rt-load-'));
  const children: { label: string; child: ChildProcess }[] = [];
  const heaps = new Map<number, HeapSample>();
  let pgPids: readonly number[] = [];
  let pgTimer: NodeJS.Timeout | undefined;
  const adminUrl = new URL(options.adminUrl);
  const dbUrl = new URL(options.adminUrl);
  dbUrl.pathname = `/${dbName}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: dbUrl.toString(),
    DATABASE_POOL_SIZE: '10',
    RIDETALLY_MASTER_KEY: randomBytes(32).toString('base64'),
    SEED_DEMO: 'false',
  };
  // Never the shared Redis: other engineers' tests and stacks run on it.
  delete env.REDIS_URL;

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    clearInterval(pgTimer);
    await Promise.all(
      children.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
          }),
      ),
    );
    try {
      psql(adminUrl.toString(), `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  try {
    log(`creating database ${dbName}`);
    psql(adminUrl.toString(), `CREATE DATABASE ${dbName}`);
    cli(env, ['migrate']);
    const refreshPids = () => void backendPids(adminUrl.toString(), dbName).then((pids) => (pgPids = pids));
    refreshPids();
    pgTimer = setInterval(refreshPids, 2000);
    pgTimer.unref();

    const withAggregator = options.aggregator ?? true;
    if (withAggregator) {
      const redisPort = await freePort();
      const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], {
        cwd: dir,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push({ label: 'redis-server (private)', child: redis });
      const deadline = Date.now() + 10_000;
      while (spawnSync('redis-cli', ['-p', String(redisPort), 'ping'], { encoding: 'utf8' }).stdout.trim() !== 'PONG') {
        if (redis.exitCode !== null || Date.now() > deadline) throw new Error(`private redis-server on ${redisPort} did not start`);
        await new Promise((r) => setTimeout(r, 100));
      }
      env.REDIS_URL = `redis://127.0.0.1:${redisPort}`;
      log(`private redis-server on ${redisPort} (pid ${redis.pid})`);
    }
    const client = cli(env, ['client', 'add', '--name', 'load-driver', '--json']);
    const tokenFile = join(dir, 'rider-client.json');
    writeFileSync(tokenFile, client, { mode: 0o600 });
    const token = (JSON.parse(client) as { token: string }).token;

    log(`adding ${options.devices} devices`);
    const devices: { id: string; vehicle: string; secret: string }[] = [];
    for (let i = 1; i <= options.devices; i++) {
      const id = `LOAD-D${String(i).padStart(3, '0')}`;
      const vehicle = `LV${String(i).padStart(3, '0')}`;
      const out = JSON.parse(cli(env, ['device', 'add', '--id', id, '--vehicle', vehicle, '--json'])) as { secret: string };
      devices.push({ id, vehicle, secret: out.secret });
    }

    const spawnNode = (label: string, entry: string, extraEnv: NodeJS.ProcessEnv): ChildProcess => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--import', join(import.meta.dirname, 'heap-probe.ts'), entry], {
        cwd: ROOT,
        env: { ...env, ...extraEnv },
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      child.on('message', (m: { rtHeap?: { heapUsed: number; heapTotal: number } }) => {
        if (m.rtHeap && child.pid) heaps.set(child.pid, { heapUsedMiB: m.rtHeap.heapUsed / 1_048_576, heapTotalMiB: m.rtHeap.heapTotal / 1_048_576 });
      });
      // The channel must not keep the driver alive either.
      child.channel?.unref();
      children.push({ label, child });
      return child;
    };
    const start = async (label: string, entry: string, readyTimeoutMs = 90_000): Promise<string> => {
      const port = await freePort();
      const child = spawnNode(label, entry, { PORT: String(port), HOST: '127.0.0.1' });
      const url = `http://127.0.0.1:${port}`;
      await waitReady(url, child, readyTimeoutMs);
      log(`${label} ready at ${url} (pid ${child.pid})`);
      return url;
    };
    const ingestUrl = await start('tap-ingest', 'services/tap-ingest/src/main.ts');
    if (withAggregator) {
      const aggregator = spawnNode('aggregator', 'services/aggregator/src/main.ts', { AGGREGATOR_QUEUE_PREFIX: `load-${process.pid}`, AGGREGATOR_METRICS_PORT: '0' });
      log(`aggregator started (pid ${aggregator.pid})`);
    }
    const riderUrl = await start('rider-app', 'services/rider-app/src/main.ts');
    let staffUrl: string | undefined;
    let staffProblem = existsSync(join(ROOT, 'services/reward/src/main.ts')) ? undefined : 'services/reward/src/main.ts does not exist';
    if (!staffProblem) {
      try {
        staffUrl = await start('reward', 'services/reward/src/main.ts', 30_000);
      } catch (err) {
        staffProblem = `the reward service did not become ready: ${err instanceof Error ? err.message : String(err)}`;
        children.pop()?.child.kill('SIGKILL');
      }
    }

    log(`registering ${options.persons} persons and their transit cards through the rider-app API`);
    const personIds: string[] = new Array<string>(options.persons);
    const cards = Array.from({ length: options.persons }, (_, i) => `3101${String(900_000_000_000 + i)}`);
    await pool(cards, 16, async (card, i) => {
      const { personId } = (await postJson(`${riderUrl}/v1/persons`, token, { idNumber: syntheticIdNumber(i), name: `测试乘客${i}` })) as {
        personId: string;
      };
      await postJson(`${riderUrl}/v1/persons/${personId}/media`, token, { type: 'transit_card', id: card, kind: 'normal', validFrom: '2022-04-01' });
      personIds[i] = personId;
    });
    const personsFile = join(dir, 'person-ids.json');
    writeFileSync(personsFile, JSON.stringify(personIds));

    // R2 and R3: everyone works for one city-area agency; the buses' routes are city-area routes.
    log('importing routes (GTFS), an employer and the roster through the CLI');
    const gtfs = join(dir, 'gtfs');
    mkdirSync(gtfs);
    writeFileSync(join(gtfs, 'agency.txt'), 'agency_id,agency_name,agency_url,agency_timezone\nLOAD,Load test bus company,https://example.org,Asia/Shanghai\n');
    writeFileSync(
      join(gtfs, 'routes.txt'),
      'route_id,agency_id,route_short_name,route_type\n' + [1, 2, 3, 4, 5].map((n) => `LR${n},LOAD,L${n},3`).join('\n') + '\n',
    );
    cli(env, ['import', 'gtfs', gtfs]);
    writeFileSync(join(dir, 'employers.csv'), 'code,name,type,city_area\nLOADGOV,测试机关,agency,true\n');
    cli(env, ['import', 'employers', join(dir, 'employers.csv')]);
    const roster = cards.map((_, i) => `${syntheticIdNumber(i)},测试乘客${i},LOADGOV,2022-01-01,`).join('\n');
    writeFileSync(join(dir, 'employees.csv'), 'id_number,name,employer_code,in_service_from,in_service_to\n' + roster + '\n', { mode: 0o600 });
    cli(env, ['import', 'employees', join(dir, 'employees.csv')]);

    const byDevice = syntheticTaps(cards, devices, options.from, options.to);
    const total = [...byDevice.values()].reduce((s, l) => s + l.length, 0);
    log(`posting ${total} taps through tap-ingest in signed 500-tap batches`);
    const batches = devices.flatMap((d) => {
      const list = byDevice.get(d.id)!;
      return Array.from({ length: Math.ceil(list.length / 500) }, (_, k) => ({ device: d, taps: list.slice(k * 500, k * 500 + 500) }));
    });
    const watched = (): WatchedProcess[] => children.map(({ label, child }) => ({ label, pid: child.pid!, heap: () => heaps.get(child.pid!) }));
    const groups: WatchedGroup[] = [{ label: 'PostgreSQL backends of the load database (sum)', pids: () => pgPids }];
    const seedWatch = watchProcesses(watched(), 250, groups);
    const t0 = performance.now();
    let accepted = 0;
    await pool(batches, options.devices, async ({ device, taps }) => {
      const body = JSON.stringify({ taps });
      const ts = String(Math.floor(Date.now() / 1000));
      const res = await fetchRetrying(`${ingestUrl}/v1/taps`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-device-id': device.id,
          'x-timestamp': ts,
          'x-signature': createHmac('sha256', device.secret).update(`${ts}.${body}`).digest('hex'),
        },
        body,
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`POST /v1/taps: ${res.status} ${text.slice(0, 300)}`);
      const answer = JSON.parse(text) as { accepted: number; duplicates: number; rejected: unknown[] };
      if (answer.rejected.length > 0) throw new Error(`taps rejected: ${JSON.stringify(answer.rejected.slice(0, 3))}`);
      // A retried batch whose first attempt committed comes back as duplicates.
      accepted += answer.accepted + answer.duplicates;
    });
    const seconds = (performance.now() - t0) / 1000;
    if (accepted !== total) throw new Error(`tap-ingest accepted ${accepted} of ${total} taps`);
    let seedLabel = `upload of ${total} taps through tap-ingest (${(total / seconds).toFixed(0)} taps/s, 500-tap batches, ${options.devices} in flight)`;
    if (withAggregator) {
      log('waiting for the aggregator to drain the outbox');
      const deadline = Date.now() + 600_000;
      const pending = () => Number(spawnSync('psql', [dbUrl.toString(), '-Atc', 'select count(*) from outbox where processed_at is null'], { encoding: 'utf8' }).stdout.trim());
      let left = pending();
      while (left > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        left = pending();
      }
      seedLabel += left === 0 ? ', then until the aggregator had drained the outbox' : `, then 600 s of draining (${left} outbox rows still pending)`;
    }
    const seedSeconds = (performance.now() - t0) / 1000;
    const seedUsage = { label: seedLabel, seconds: seedSeconds, processes: seedWatch.stop() };

    if (options.ratingsPerPerson > 0) {
      log(`rating up to ${options.ratingsPerPerson} rides per person through the rider-app API`);
      const from = options.from;
      await pool(personIds, 16, async (personId) => {
        const res = await fetchRetrying(`${riderUrl}/v1/persons/${personId}/rides?from=${from}&to=${options.to}`, { headers: { authorization: `Bearer ${token}` } });
        if (!res.ok) throw new Error(`ride list: ${res.status}`);
        const { rides } = (await res.json()) as { rides: { tapIds: number[]; tappedAt: string; rated: boolean }[] };
        for (const ride of rides.filter((r) => !r.rated).slice(0, options.ratingsPerPerson)) {
          const ratedAt = new Date(Date.parse(ride.tappedAt) + 30 * 60_000).toISOString();
          await postJson(`${riderUrl}/v1/rides/${ride.tapIds[0]}/rating`, token, { personId, score: 5, ratedAt }, [409]);
        }
      });
    }
    // Counts for the rankings: the aggregator's full recompute of each quarter and year seeded.
    for (const period of periodsBetween(options.from, options.to)) {
      log(`recompute ${period}`);
      cli(env, ['recompute', '--period', period]);
    }

    let staffEnv: NodeJS.ProcessEnv = {};
    if (staffUrl) {
      const password = randomBytes(18).toString('base64url');
      const passwordFile = join(dir, 'staff-password');
      writeFileSync(passwordFile, password + '\n', { mode: 0o600 });
      try {
        cli(env, ['user', 'add', '--username', 'load-operator', '--role', 'operator', '--password-stdin'], password + '\n');
        staffEnv = { STAFF_URL: staffUrl, STAFF_USER: 'load-operator', STAFF_PASSWORD_FILE: passwordFile };
      } catch (err) {
        staffProblem = `could not create the staff user: ${err instanceof Error ? err.message : String(err)}`;
      }
    }

    return {
      env: {
        RIDER_APP_URL: riderUrl,
        CLIENT_TOKEN_FILE: tokenFile,
        PERSONS_FILE: personsFile,
        LIST_TO: options.to,
        LIST_DAYS: String(Math.round((Date.parse(options.to) - Date.parse(options.from)) / 86_400_000)),
        ...staffEnv,
      },
      processes: watched(),
      groups,
      seedUsage,
      staffProblem,
      seeded: { persons: options.persons, taps: total, tapsPerSecond: total / seconds },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
