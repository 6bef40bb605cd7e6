/**
 * `pnpm bench:load [rider-app|staff|all] [--local] [--watch label=pid ...] [--json <file>]`
 *
 * Sends the k6 rider-app and staff mixes (load-tests/rider-app.js, staff.js; parameters in
 * load-tests/mixes.js) from Node, for machines without k6, and prints per-request latency, the
 * arrival-rate outcome, the k6 thresholds and the memory (RSS mean and peak; V8 heap of the local
 * stack's services; PSS of its PostgreSQL backends) and CPU of each watched process.
 *
 * Inputs, as for the k6 scripts: RIDER_APP_URL / STAFF_URL (or BASE_URL), CLIENT_TOKEN_FILE,
 * PERSONS_FILE, STAFF_USER, STAFF_PASSWORD_FILE; mix parameters by ENV_NAMES, optionally prefixed
 * RIDER_ / STAFF_. WATCH="ingest=1234,reward=5678" (or --watch) names the processes to sample.
 * Before each mix, GET /healthz of the same service at the same rate gives the machine's noise
 * floor (BASELINE=0 skips it); the report gives the mix's latencies as ratios to it.
 * Exits 1 when a threshold fails.
 *
 * --local: start a throw-away stack on this machine first (local-stack.ts: a fresh database on
 * LOAD_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres; LOCAL_PERSONS persons (2000)
 * with a month of taps (LOCAL_FROM..LOCAL_TO, 2022-09-01..2022-09-30) through LOCAL_DEVICES (8)
 * validators, LOCAL_RATINGS_PER_PERSON (3) rated rides each, counts recomputed), run against it,
 * watch its processes (also during the seeding's tap upload: tap-ingest and the aggregator under
 * load; LOCAL_AGGREGATOR=0 starts no aggregator and no private Redis), and remove it.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import {
  riderAppInputsFromEnv,
  riderAppMixFromEnv,
  runBaseline,
  runRiderAppMix,
  runStaffMix,
  staffInputsFromEnv,
  staffMixFromEnv,
  type MixResult,
} from './mix-runners';
import { startLocalStack } from './local-stack';
import { formatReport } from './report';
import { watchProcesses, type ProcessUsage, type WatchedGroup, type WatchedProcess } from './stats';

export interface DriverRun {
  startedAt: string;
  node: string;
  notes: string[];
  results: { result: MixResult; processes: ProcessUsage[]; baseline?: MixResult }[];
  /** The local stack's seeding (taps uploaded through tap-ingest), watched like a mix. */
  seeding?: { label: string; seconds: number; processes: ProcessUsage[] };
  /** Load average (1, 5, 15 min) at the start and at the end of the run. */
  loadAverage?: { start: number[]; end?: number[] };
}

export function parseWatch(items: readonly string[]): WatchedProcess[] {
  return items
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const [label, pid] = s.split('=');
      if (!label || !pid || !/^\d+$/.test(pid)) throw new Error(`--watch wants label=pid, got "${s}"`);
      return { label, pid: Number(pid) };
    });
}

export async function runDriver(
  which: 'rider-app' | 'staff' | 'all',
  env: NodeJS.ProcessEnv,
  watched: readonly WatchedProcess[],
  groups: readonly WatchedGroup[] = [],
): Promise<DriverRun> {
  const run: DriverRun = { startedAt: new Date().toISOString(), node: process.version, notes: [], results: [] };
  const self: WatchedProcess = { label: 'load driver (this process)', pid: process.pid };
  if (which === 'rider-app' || which === 'all') {
    const inputs = riderAppInputsFromEnv(env);
    const mix = riderAppMixFromEnv(env);
    const baseline = env.BASELINE === '0' ? undefined : await runBaseline(inputs.baseUrl, mix);
    const watch = watchProcesses([...watched, self], 250, groups);
    const result = await runRiderAppMix(inputs, mix);
    run.results.push({ result, processes: watch.stop(), baseline });
  }
  if (which === 'staff' || which === 'all') {
    const inputs = staffInputsFromEnv(env);
    const mix = staffMixFromEnv(env);
    const baseline = env.BASELINE === '0' ? undefined : await runBaseline(inputs.baseUrl, mix);
    const watch = watchProcesses([...watched, self], 250, groups);
    const result = await runStaffMix(inputs, mix);
    run.results.push({ result, processes: watch.stop(), baseline });
  }
  return run;
}

async function main(argv: string[]): Promise<number> {
  let which: 'rider-app' | 'staff' | 'all' = 'all';
  const watchArgs: string[] = process.env.WATCH ? [process.env.WATCH] : [];
  let jsonOut: string | undefined;
  let local = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === 'rider-app' || a === 'staff' || a === 'all') which = a;
    else if (a === '--watch') watchArgs.push(argv[++i] ?? '');
    else if (a === '--json') jsonOut = argv[++i];
    else if (a === '--local') local = true;
    else throw new Error(`unknown argument "${a}" (usage: pnpm bench:load [rider-app|staff|all] [--local] [--watch label=pid] [--json file])`);
  }
  let watched = parseWatch(watchArgs);
  let groups: WatchedGroup[] = [];
  const loadStart = loadavg();
  let env = process.env;
  const notes: string[] = [];
  const stack = local
    ? await startLocalStack({
        adminUrl: process.env.LOAD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
        persons: Number(process.env.LOCAL_PERSONS ?? 2000),
        devices: Number(process.env.LOCAL_DEVICES ?? 8),
        ratingsPerPerson: Number(process.env.LOCAL_RATINGS_PER_PERSON ?? 3),
        from: process.env.LOCAL_FROM ?? '2022-09-01',
        to: process.env.LOCAL_TO ?? '2022-09-30',
        aggregator: process.env.LOCAL_AGGREGATOR !== '0',
        log: (line) => process.stderr.write(`bench:load: ${line}\n`),
      })
    : undefined;
  try {
    if (stack) {
      // The stack's values first; anything set in the environment (rates, durations) still wins.
      env = { ...stack.env, ...process.env };
      watched = [...watched, ...stack.processes];
      groups = stack.groups;
      notes.push(
        `local stack: ${stack.seeded.persons} persons registered and ${stack.seeded.taps} taps posted through tap-ingest before the run (${stack.seeded.tapsPerSecond.toFixed(0)} taps/s while seeding, not a benchmark)`,
      );
      if (stack.staffProblem) {
        notes.push(`staff mix not run: ${stack.staffProblem}`);
        if (which === 'staff') throw new Error(`staff mix not available: ${stack.staffProblem}`);
        if (which === 'all') which = 'rider-app';
      }
    }
    const run = await runDriver(which, env, watched, groups);
    run.notes.push(...notes);
    if (stack) run.seeding = stack.seedUsage;
    run.loadAverage = { start: loadStart, end: loadavg() };
    process.stdout.write(formatReport(run));
    if (jsonOut) writeFileSync(jsonOut, JSON.stringify(run, null, 2) + '\n');
    return run.results.every(({ result }) => result.thresholds.every((t) => t.passed)) ? 0 : 1;
  } finally {
    await stack?.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`bench:load: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    },
  );
}
