/**
 * `pnpm test:faults [fault…]`: runs the fault scenarios (default all) one after another on a private
 * PostgreSQL and private Redis servers, prints the results table, writes it into docs/reliability.md
 * ("Fault tests" section, after a run of every scenario, with the commit and load average) and
 * exits 1 if any scenario failed. Sizes: FAULT_SCALE, FAULT_DAYS,
 * FAULT_RATE, FAULT_CONCURRENCY, FAULT_AFTER_MS, FAULT_SEED (see fault-scenario.ts). FAULT_NO_DOCS=1
 * leaves the docs alone.
 */
import { join } from 'node:path';
import { createCleanup, REPO_ROOT, runAllCleanups, startPrivatePostgres } from './fault-kit';
import { writeFaultSection } from './reliability-doc';
import { formatLoad, readCheckout, startLoadSampler, type RunContext } from './run-context';
import { FAULTS, runFaultScenario, sizeFromEnv, type FaultName, type FaultResult } from './fault-scenario';
import { formatTable } from './results-table';

const requested = process.argv.slice(2).filter((a) => a !== '--');
for (const name of requested)
  if (!FAULTS.includes(name as FaultName)) {
    process.stderr.write(`unknown fault ${name}; known: ${FAULTS.join(', ')}\n`);
    process.exit(2);
  }
const faults = requested.length > 0 ? (requested as FaultName[]) : [...FAULTS];
const size = sizeFromEnv();
const cleanup = createCleanup();
let interrupted = false;
const onSignal = () => {
  interrupted = true;
  void runAllCleanups().then(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const started = Date.now();
const checkout = readCheckout(REPO_ROOT);
const load = startLoadSampler();
if (checkout.uncommitted.length > 0)
  process.stderr.write(
    `commit ${checkout.commit} with uncommitted changes (the services run them too): ${checkout.uncommitted.join(', ')}\n`,
  );
const results: FaultResult[] = [];
try {
  const postgres = await startPrivatePostgres(cleanup);
  process.stderr.write(`private PostgreSQL on ${postgres.port}; size ${JSON.stringify(size)}\n`);
  for (const fault of faults) {
    if (interrupted) break;
    const from = Date.now();
    const r = await runFaultScenario(fault, size, { kind: 'private', postgres });
    r.load = load.between(from, Date.now()).mean;
    results.push(r);
    process.stderr.write(
      `[${fault}] ${r.passed ? 'PASS' : 'FAIL'} in ${r.seconds} s, load ${r.load.toFixed(1)}\n`,
    );
  }
} finally {
  await cleanup.run();
}
const run: RunContext = {
  startedAt: new Date(started),
  ...checkout,
  load: load.between(started, Date.now()),
};
load.stop();
const table = formatTable(results);
process.stdout.write(table + '\n');
for (const r of results) for (const note of r.notes) process.stdout.write(`  ${r.fault}: ${note}\n`);
process.stdout.write(
  `total ${Math.round((Date.now() - started) / 1000)} s at commit ${run.commit}${run.uncommitted.length ? ' (+ uncommitted changes)' : ''}, load average ${formatLoad(run.load)}\n`,
);
// Only a run of the whole suite replaces the table: a scenario run alone (while looking for a problem)
// would otherwise leave docs/reliability.md with a table of one row.
if (!process.env.FAULT_NO_DOCS && results.length === FAULTS.length)
  await writeFaultSection(
    join(REPO_ROOT, 'docs/reliability.md'),
    results,
    size,
    Math.round((Date.now() - started) / 1000),
    run,
  );
process.exit(results.length === faults.length && results.every((r) => r.passed) ? 0 : 1);
