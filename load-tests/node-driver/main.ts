/**
 * `pnpm bench:load [rider-app|staff|all] [--watch label=pid ...] [--json <file>]`
 *
 * Sends the k6 rider-app and staff mixes (load-tests/rider-app.js, staff.js; parameters in
 * load-tests/mixes.js) from Node, for machines without k6, and prints per-request latency, the
 * arrival-rate outcome, the k6 thresholds and the memory and CPU of each watched process.
 *
 * Inputs, as for the k6 scripts: RIDER_APP_URL / STAFF_URL (or BASE_URL), CLIENT_TOKEN_FILE,
 * PERSONS_FILE, STAFF_USER, STAFF_PASSWORD_FILE; mix parameters by ENV_NAMES, optionally prefixed
 * RIDER_ / STAFF_. WATCH="ingest=1234,reward=5678" (or --watch) names the processes to sample.
 * Exits 1 when a threshold fails.
 */
import { writeFileSync } from 'node:fs';
import {
  riderAppInputsFromEnv,
  riderAppMixFromEnv,
  runRiderAppMix,
  runStaffMix,
  staffInputsFromEnv,
  staffMixFromEnv,
  type MixResult,
} from './mix-runners';
import { formatReport } from './report';
import { watchProcesses, type ProcessUsage, type WatchedProcess } from './stats';

export interface DriverRun {
  startedAt: string;
  node: string;
  results: { result: MixResult; processes: ProcessUsage[] }[];
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
): Promise<DriverRun> {
  const run: DriverRun = { startedAt: new Date().toISOString(), node: process.version, results: [] };
  const self: WatchedProcess = { label: 'load driver (this process)', pid: process.pid };
  if (which === 'rider-app' || which === 'all') {
    const inputs = riderAppInputsFromEnv(env);
    const watch = watchProcesses([...watched, self]);
    const result = await runRiderAppMix(inputs, riderAppMixFromEnv(env));
    run.results.push({ result, processes: watch.stop() });
  }
  if (which === 'staff' || which === 'all') {
    const inputs = staffInputsFromEnv(env);
    const watch = watchProcesses([...watched, self]);
    const result = await runStaffMix(inputs, staffMixFromEnv(env));
    run.results.push({ result, processes: watch.stop() });
  }
  return run;
}

async function main(argv: string[]): Promise<number> {
  let which: 'rider-app' | 'staff' | 'all' = 'all';
  const watchArgs: string[] = process.env.WATCH ? [process.env.WATCH] : [];
  let jsonOut: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === 'rider-app' || a === 'staff' || a === 'all') which = a;
    else if (a === '--watch') watchArgs.push(argv[++i] ?? '');
    else if (a === '--json') jsonOut = argv[++i];
    else throw new Error(`unknown argument "${a}" (usage: pnpm bench:load [rider-app|staff|all] [--watch label=pid] [--json file])`);
  }
  const run = await runDriver(which, process.env, parseWatch(watchArgs));
  process.stdout.write(formatReport(run));
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(run, null, 2) + '\n');
  return run.results.every(({ result }) => result.thresholds.every((t) => t.passed)) ? 0 : 1;
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
