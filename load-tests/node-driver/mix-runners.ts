/**
 * The rider-app and staff iterations of load-tests/rider-app.js and load-tests/staff.js, in Node:
 * the same request builders (../mixes.js), the same proportions, the same expected statuses and
 * the same thresholds, on the constant-arrival-rate runner.
 */
import { readFileSync } from 'node:fs';
import {
  ENV_NAMES,
  RIDER_APP_MIX,
  STAFF_MIX,
  applyEnv,
  chooseRideToRate,
  pickWeighted,
  ratingRequest,
  readPersonIds,
  readToken,
  rideListRequest,
  staffRequest,
} from '../mixes.js';
import { runAtConstantRate, type ArrivalResult } from './arrival';
import { summarise, type LatencySummary, type RequestRecord } from './stats';

type RequestSpec = ReturnType<typeof rideListRequest>;
type Ride = Parameters<typeof chooseRideToRate>[0][number];
export type RiderAppMix = typeof RIDER_APP_MIX;
export type StaffMix = typeof STAFF_MIX;

export interface MixResult {
  mix: 'rider-app' | 'staff' | 'baseline';
  params: Record<string, unknown>;
  arrival: ArrivalResult;
  latency: LatencySummary[];
  /** Threshold → passed; the same thresholds as the k6 script. */
  thresholds: { name: string; passed: boolean; actual: number; limit: number }[];
  notes: string[];
}

/** k6 duration text ("60s", "2m", "500ms") → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`cannot read duration "${text}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

/**
 * The environment as the mix sees it: `<PREFIX><NAME>` wins over `<NAME>`, so one driver run can
 * give the two mixes different rates (RIDER_RATE=40 STAFF_RATE=2).
 */
export function envFor(prefix: string, env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const name of Object.values(ENV_NAMES)) out[name] = env[prefix + name] ?? env[name];
  return out;
}

interface Sender {
  send(spec: RequestSpec, token: string): Promise<{ status: number; body: string }>;
  records: RequestRecord[];
}

function createSender(baseUrl: string): Sender {
  const records: RequestRecord[] = [];
  const base = baseUrl.replace(/\/$/, '');
  return {
    records,
    async send(spec, token) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (token) headers.authorization = `Bearer ${token}`;
      const t0 = performance.now();
      let status = 0;
      let body = '';
      try {
        const res = await fetch(base + spec.path, {
          method: spec.method,
          headers,
          body: spec.body ? JSON.stringify(spec.body) : undefined,
          signal: AbortSignal.timeout(60_000),
        });
        status = res.status;
        body = await res.text();
      } finally {
        // A transport error is a failed request with status 0, as in k6.
        records.push({ name: spec.name, ms: performance.now() - t0, ok: spec.expected.includes(status), status });
      }
      return { status, body };
    },
  };
}

function thresholdsOf(
  latency: LatencySummary[],
  arrival: ArrivalResult,
  limits: { maxFailedRate: number; maxDroppedIterations: number; p99: { name: string; ms: number }[] },
): MixResult['thresholds'] {
  const all = latency.find((l) => l.name === '(all)')!;
  const out: MixResult['thresholds'] = [
    { name: 'http_req_failed rate', passed: all.failed / Math.max(1, all.count) < limits.maxFailedRate, actual: all.failed / Math.max(1, all.count), limit: limits.maxFailedRate },
    { name: 'dropped_iterations', passed: arrival.dropped <= limits.maxDroppedIterations, actual: arrival.dropped, limit: limits.maxDroppedIterations },
  ];
  for (const { name, ms } of limits.p99) {
    const row = latency.find((l) => l.name === name);
    // A request kind that never ran has no p99 (k6 reports such a threshold as passing, too).
    if (!row) continue;
    out.push({ name: `p99 ${name}`, passed: row.p99 < ms, actual: row.p99, limit: ms });
  }
  return out;
}

export interface RiderAppInputs {
  baseUrl: string;
  token: string;
  personIds: string[];
}

export function riderAppInputsFromEnv(env: NodeJS.ProcessEnv): RiderAppInputs {
  const tokenFile = env.CLIENT_TOKEN_FILE;
  const personsFile = env.PERSONS_FILE;
  if (!tokenFile) throw new Error('set CLIENT_TOKEN_FILE to the file holding the rider-app client token');
  if (!personsFile) throw new Error('set PERSONS_FILE to a file of person ids');
  return {
    baseUrl: env.RIDER_APP_URL ?? env.BASE_URL ?? 'http://127.0.0.1:8080',
    token: readToken(readFileSync(tokenFile, 'utf8')),
    personIds: readPersonIds(readFileSync(personsFile, 'utf8')),
  };
}

export async function runRiderAppMix(inputs: RiderAppInputs, mix: RiderAppMix): Promise<MixResult> {
  const sender = createSender(inputs.baseUrl);
  let ratingsPosted = 0;
  let noRateableRide = 0;
  const arrival = await runAtConstantRate({ rate: mix.rate, durationMs: parseDuration(mix.duration), maxInFlight: mix.maxVUs }, async () => {
    const personId = inputs.personIds[Math.floor(Math.random() * inputs.personIds.length)]!;
    const list = await sender.send(rideListRequest(personId, mix, Date.now()), inputs.token);
    if (list.status !== 200 || Math.random() >= mix.ratingShare) return;
    const body = JSON.parse(list.body) as { rides?: Ride[] };
    if (!Array.isArray(body.rides)) throw new Error('ride list without a rides array');
    const choice = chooseRideToRate(body.rides, mix, Date.now());
    if (!choice) {
      noRateableRide++;
      return;
    }
    const rated = await sender.send(ratingRequest(personId, choice, Math.random()), inputs.token);
    if (rated.status === 201) ratingsPosted++;
  });
  const latency = summarise(sender.records, arrival.elapsedMs);
  return {
    mix: 'rider-app',
    params: { ...mix, persons: inputs.personIds.length },
    arrival,
    latency,
    thresholds: thresholdsOf(latency, arrival, {
      maxFailedRate: mix.maxFailedRate,
      maxDroppedIterations: mix.maxDroppedIterations,
      p99: [
        { name: '(all)', ms: mix.p99Ms },
        { name: 'GET /v1/persons/{personId}/rides', ms: mix.p99Ms },
        { name: 'POST /v1/rides/{tapId}/rating', ms: mix.p99Ms },
      ],
    }),
    notes: [`ratings posted: ${ratingsPosted}`, `iterations with no rateable ride: ${noRateableRide}`],
  };
}

export interface StaffInputs {
  baseUrl: string;
  username: string;
  password: string;
}

export function staffInputsFromEnv(env: NodeJS.ProcessEnv): StaffInputs {
  if (!env.STAFF_USER) throw new Error('set STAFF_USER to a staff username');
  if (!env.STAFF_PASSWORD_FILE) throw new Error('set STAFF_PASSWORD_FILE to the file holding its password');
  return {
    baseUrl: env.STAFF_URL ?? env.BASE_URL ?? 'http://127.0.0.1:8080',
    username: env.STAFF_USER,
    password: readFileSync(env.STAFF_PASSWORD_FILE, 'utf8').replace(/\r?\n$/, ''),
  };
}

export async function runStaffMix(inputs: StaffInputs, mix: StaffMix): Promise<MixResult> {
  const sender = createSender(inputs.baseUrl);
  const credentials = { username: inputs.username, password: inputs.password };
  // setup(): one sign-in whose session every iteration uses (not counted, as k6's setup is not).
  const signIn = await sender.send(staffRequest('signIn', mix, 0, credentials), '');
  sender.records.length = 0;
  const token = signIn.status === 200 ? (JSON.parse(signIn.body) as { token?: unknown }).token : undefined;
  if (typeof token !== 'string') throw new Error(`sign-in as ${inputs.username} failed with status ${signIn.status}`);
  const kinds: Record<string, number> = {};
  const rankingRows: Record<string, number> = {};
  const arrival = await runAtConstantRate({ rate: mix.rate, durationMs: parseDuration(mix.duration), maxInFlight: mix.maxVUs }, async () => {
    const kind = pickWeighted(mix.weights, Math.random());
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    const spec = staffRequest(kind, mix, Math.random(), credentials);
    const res = await sender.send(spec, kind === 'signIn' ? '' : token);
    if (spec.name === 'GET rankings' && res.status === 200) {
      // How big the ranked lists were: a fast answer over an empty list would prove nothing.
      const period = new URLSearchParams(spec.path.split('?')[1]).get('period') ?? '?';
      const rows = (JSON.parse(res.body) as { rows?: unknown[] }).rows;
      rankingRows[period] = Math.max(rankingRows[period] ?? 0, Array.isArray(rows) ? rows.length : -1);
    }
  });
  const latency = summarise(sender.records, arrival.elapsedMs);
  return {
    mix: 'staff',
    params: { ...mix },
    arrival,
    latency,
    thresholds: thresholdsOf(latency, arrival, {
      maxFailedRate: mix.maxFailedRate,
      maxDroppedIterations: mix.maxDroppedIterations,
      p99: [
        { name: 'GET rankings', ms: mix.p99Ms },
        { name: 'GET export', ms: mix.exportP99Ms },
        { name: 'POST sign-in', ms: mix.signInP99Ms },
      ],
    }),
    notes: [`iterations by kind: ${JSON.stringify(kinds)}`, `rows in the ranking answers, by period: ${JSON.stringify(rankingRows)}`],
  };
}

export function riderAppMixFromEnv(env: NodeJS.ProcessEnv): RiderAppMix {
  return applyEnv(RIDER_APP_MIX, envFor('RIDER_', env));
}

export function staffMixFromEnv(env: NodeJS.ProcessEnv): StaffMix {
  return applyEnv(STAFF_MIX, envFor('STAFF_', env));
}

/**
 * The noise floor of this machine at the mix's rate: GET /healthz of the same service, same rate
 * and duration, just before the mix. Latencies of the mix are reported as ratios to it, since the
 * machine is shared and absolute figures move with whatever else runs.
 */
export async function runBaseline(baseUrl: string, mix: { rate: number; duration: string; maxVUs: number }): Promise<MixResult> {
  const sender = createSender(baseUrl);
  const spec: RequestSpec = { method: 'GET', path: '/healthz', name: 'GET /healthz', expected: [200] };
  const arrival = await runAtConstantRate({ rate: mix.rate, durationMs: parseDuration(mix.duration), maxInFlight: mix.maxVUs }, async () => {
    await sender.send(spec, '');
  });
  const latency = summarise(sender.records, arrival.elapsedMs);
  return { mix: 'baseline', params: { rate: mix.rate, duration: mix.duration, maxVUs: mix.maxVUs, url: baseUrl }, arrival, latency, thresholds: [], notes: [] };
}
