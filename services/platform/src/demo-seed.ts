/**
 * The demo city `pnpm start` seeds into a new embedded data folder (issue 7): a small synthetic
 * Lüliang from the simulator (seed "demo"), set up directly in the platform's database with the
 * registry functions the CLI uses, its riders, taps and ratings then driven over HTTP to this very
 * process (the real rider-app API, validator protocol and rating API), and demo staff users for
 * every role. The in-process aggregator counts as the taps arrive.
 *
 * Period: from the first day of the previous quarter to yesterday (Shanghai), so a closed quarter
 * exists to make a list from and the dashboard shows this year and this month.
 *
 * Resumable rather than transactional: `DATA_DIR/demo/state.json` says "seeding" from the first step
 * and "seeded" only after the last; a start that finds "seeding" runs the seed again from the top
 * with the same period (kept in the state file). Every step tolerates what an interrupted run left:
 * the imports upsert, device secrets are kept in `DATA_DIR/demo/devices.ndjson` (0600) and reused,
 * the rider-app client token in `client.json`, registering a person again answers the same id and a
 * binding again 409, a batch sent again carries the same seqs (duplicates, not counted twice), a
 * rating again 409, and existing staff users are left as they are.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from '@ridetally/db';
import type { Keyring } from '@ridetally/keyring';
import { setUpCity } from '@ridetally/registry';
import { createStaffUser, setBudget, setTarget, STAFF_ROLES, toContext, type Role } from '@ridetally/reward';
import {
  createTapPoster,
  generateCity,
  personsCsv,
  postRatings,
  registerRiders,
  runSimulation,
  toRatingRecord,
  writeCityFiles,
  type TrafficSink,
} from '@ridetally/simulator';
import { generateDeviceSecret } from '@ridetally/tap-ingest';
import type { Logger } from '@ridetally/telemetry';

/** Demo staff logins: username `demo-<role>`, password `demo-<role>-pass` (printed on start). */
export const DEMO_USERS: readonly { username: string; password: string; role: Role }[] = STAFF_ROLES.map((role) => ({
  username: `demo-${role.replace('_', '-')}`,
  password: `demo-${role.replace('_', '-')}-pass`,
  role,
}));

export const DEMO_SEED = 'demo';
/** Simulator scale of the demo city (1 = the plan's 456,000 residents). */
export const DEMO_SCALE = 0.001;
/**
 * One rating in this many is posted. The embedded database answers some ten requests a second on a
 * loaded machine and a rating takes two (the rides look-up and the POST), so the city's full ~60
 * ratings a day would take many minutes; a sample keeps the ratings phase to about a minute there
 * (seconds on an idle laptop) and still gives every quarter a ranking. (The simulator's ground truth assumes every rating, so none is written here.)
 */
export const DEMO_RATING_SAMPLE = 50;
/** Validators upload a week of taps at a time (at most 500 per batch): fewer requests. */
const DEMO_BATCH_MINUTES = 7 * 24 * 60;

export interface DemoSeedDeps {
  db: Database;
  keyring: Keyring;
  /** This platform's own base URL (taps and ratings go over HTTP to it). */
  baseUrl: string;
  logger: Logger;
  /** Where the demo keeps its state, city files and credentials (DATA_DIR/demo). */
  dir: string;
  now?: () => Date;
  /** Aborted on Ctrl-C: the seed stops between requests. */
  signal?: AbortSignal;
  /** Days simulated from the period's start (default: to yesterday); for a quick seed in tests. */
  days?: number;
}

interface DemoState {
  status: 'seeding' | 'seeded';
  start: string;
  days: number;
}

export interface DemoSeedResult {
  start: string;
  days: number;
  quarters: string[];
  taps: number;
  ratings: number;
  seconds: number;
}

/** The state file's verdict: whether a seed must run (first start or an interrupted seed). */
export async function demoSeedState(dir: string): Promise<DemoState | undefined> {
  const file = join(dir, 'state.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(await readFile(file, 'utf8')) as DemoState;
}

/**
 * The demo's days (Shanghai): from the first day of the previous quarter to yesterday — one closed
 * quarter to make a list from, and the current quarter and month so far for the dashboard.
 */
export function demoPeriod(now: Date): { start: string; days: number } {
  const shanghai = new Date(now.getTime() + 8 * 3600_000);
  const today = Date.UTC(shanghai.getUTCFullYear(), shanghai.getUTCMonth(), shanghai.getUTCDate());
  const start = Date.UTC(shanghai.getUTCFullYear(), Math.floor(shanghai.getUTCMonth() / 3) * 3 - 3, 1);
  return { start: new Date(start).toISOString().slice(0, 10), days: Math.round((today - start) / 86_400_000) };
}

/** The quarters (yyyy-Qn) the days touch. */
export function quartersOf(start: string, days: number): string[] {
  const quarters = new Set<string>();
  const first = Date.parse(`${start}T00:00:00Z`);
  for (let d = 0; d < days; d++) {
    const day = new Date(first + d * 86_400_000);
    quarters.add(`${day.getUTCFullYear()}-Q${Math.floor(day.getUTCMonth() / 3) + 1}`);
  }
  return [...quarters];
}

function aborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new DemoSeedAborted();
}

export class DemoSeedAborted extends Error {
  constructor() {
    super('demo seed interrupted');
  }
}

async function writeSecretFile(path: string, content: string): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
  await chmod(path, 0o600);
}

export async function seedDemo(deps: DemoSeedDeps): Promise<DemoSeedResult> {
  const now = deps.now ?? (() => new Date());
  const started = Date.now();
  const log = deps.logger;
  await mkdir(deps.dir, { recursive: true, mode: 0o700 });
  const stateFile = join(deps.dir, 'state.json');
  const previous = await demoSeedState(deps.dir);
  const period = previous ?? { ...demoPeriod(now()), ...(deps.days ? { days: deps.days } : {}) };
  await writeFile(stateFile, JSON.stringify({ status: 'seeding', start: period.start, days: period.days } satisfies DemoState) + '\n');

  // 1. The city, set up in the database directly (what an office would import).
  const city = generateCity({ seed: DEMO_SEED, scale: DEMO_SCALE, start: period.start, days: period.days });
  await writeCityFiles(city, join(deps.dir, 'city'));
  const devicesFile = join(deps.dir, 'devices.ndjson');
  const clientFile = join(deps.dir, 'client.json');
  const knownSecrets = new Map<string, string>();
  if (existsSync(devicesFile)) {
    for (const line of (await readFile(devicesFile, 'utf8')).split('\n')) {
      if (!line.trim()) continue;
      const d = JSON.parse(line) as { deviceId: string; secret: string };
      knownSecrets.set(d.deviceId, d.secret);
    }
  }
  let clientToken = existsSync(clientFile) ? (JSON.parse(await readFile(clientFile, 'utf8')) as { token: string }).token : undefined;
  const setup = await setUpCity(
    { db: deps.db, keyring: deps.keyring, now },
    {
      cityDir: join(deps.dir, 'city'),
      cityNetworkId: city.cityNetworkId,
      vehicles: city.vehicles,
      knownSecrets,
      clientName: clientToken ? undefined : 'demo city rider app',
      generateSecret: generateDeviceSecret,
    },
  );
  await writeSecretFile(devicesFile, [...setup.secrets].map(([deviceId, secret]) => JSON.stringify({ deviceId, secret })).join('\n') + '\n');
  if (setup.client) {
    clientToken = setup.client.token;
    await writeSecretFile(clientFile, JSON.stringify(setup.client) + '\n');
  }
  if (!clientToken) throw new Error('demo seed: no rider-app client token');
  log.info(
    { persons: city.persons.length, employers: city.employers.length, routes: city.routes.length, vehicles: city.vehicles.length, start: period.start, days: period.days },
    'demo seed: city imported',
  );
  aborted(deps.signal);

  // 2. Riders register and bind their media through the rider app API.
  const rider = { baseUrl: deps.baseUrl, clientToken, concurrency: 4 };
  const { personIds, stats: registration } = await registerRiders(rider, city.persons);
  await writeFile(join(deps.dir, 'persons.csv'), personsCsv(personIds), { mode: 0o600 });
  log.info({ riders: registration.registered, bindings: registration.bindings }, 'demo seed: riders registered');
  aborted(deps.signal);

  // 3. Validators upload their taps.
  const poster = createTapPoster({ baseUrl: deps.baseUrl, secrets: setup.secrets, concurrency: 4 });
  const ratingsFile = join(deps.dir, 'ratings.ndjson');
  await writeFile(ratingsFile, '', { mode: 0o600 });
  let ratingsSeen = 0;
  const sink: TrafficSink = {
    async batches(batches) {
      for (const batch of batches) {
        aborted(deps.signal);
        await poster.post(batch);
      }
    },
    async ratings(ratings) {
      const sample = ratings.filter(() => ratingsSeen++ % DEMO_RATING_SAMPLE === 0);
      if (sample.length) await writeFile(ratingsFile, sample.map((r) => JSON.stringify(toRatingRecord(r))).join('\n') + '\n', { flag: 'a' });
    },
  };
  const tapsStarted = Date.now();
  const truth = await runSimulation(
    city,
    sink,
    (p) => {
      if ((p.dayIndex + 1) % 30 === 0 || p.dayIndex + 1 === p.days) {
        const perSecond = Math.round(poster.stats.accepted / Math.max(1, (Date.now() - tapsStarted) / 1000));
        log.info({ day: p.date, days: `${p.dayIndex + 1}/${p.days}`, accepted: poster.stats.accepted, perSecond }, 'demo seed: taps');
      }
    },
    { batchMinutes: DEMO_BATCH_MINUTES },
  );
  await poster.drain();
  if (Object.keys(poster.stats.failed).length > 0) throw new Error(`demo seed: tap batches failed: ${JSON.stringify(poster.stats.failed)}`);
  aborted(deps.signal);

  // 4. Ratings through the rating API (a ride counts once rated, R5).
  let days = 0;
  const ratings = await postRatings(rider, ratingsFile, personIds, (s) => {
    aborted(deps.signal);
    if (++days % 10 === 0) log.info({ days, accepted: s.accepted }, 'demo seed: ratings');
  });
  log.info({ accepted: ratings.accepted, refused: ratings.refused }, 'demo seed: ratings posted');

  // 5. Staff users for every role, and the demo year's volume target and budget.
  const ctx = toContext({ db: deps.db, keyring: deps.keyring, logger: log, clock: now });
  for (const u of DEMO_USERS) {
    try {
      await createStaffUser(ctx, 'demo seed', { username: u.username, roles: [u.role], password: u.password, displayName: `Demo ${u.role}` });
    } catch (error) {
      if ((error as { code?: string }).code !== 'conflict') throw error;
    }
  }
  const year = Number(period.start.slice(0, 4));
  const actor = { userId: 'demo-seed', username: 'demo seed', roles: ['office'] };
  // A target a little above the year's pace so far, so the score page has something to say.
  const yearlyPace = Math.round((truth.totals.boardings * 365) / period.days);
  await setTarget(ctx, actor, year, Math.max(1, Math.round(yearlyPace * 1.1)), 'demo data');
  await setBudget(ctx, actor, year, { operatingSubsidyCny: 2_000_000, preProgrammeSubsidyCny: 1_500_000 }, 'demo data');

  await writeFile(stateFile, JSON.stringify({ status: 'seeded', start: period.start, days: period.days } satisfies DemoState) + '\n');
  const result = { start: period.start, days: period.days, quarters: quartersOf(period.start, period.days), taps: poster.stats.accepted, ratings: ratings.accepted, seconds: Math.round((Date.now() - started) / 1000) };
  log.info(result, 'demo seed: done');
  return result;
}

/** What `pnpm start` prints once the demo is in. */
export function demoBanner(baseUrl: string, result: DemoSeedResult): string {
  const width = Math.max(...DEMO_USERS.map((u) => u.username.length));
  return [
    '',
    `demo city seeded: ${result.taps.toLocaleString('en')} taps, ${result.ratings.toLocaleString('en')} ratings, ${result.start} + ${result.days} days (${result.quarters.join(', ')}), ${result.seconds} s`,
    `  console   ${baseUrl}/console/`,
    '  demo logins (username / password):',
    ...DEMO_USERS.map((u) => `    ${u.username.padEnd(width)}  ${u.password}`),
    '',
  ].join('\n');
}
