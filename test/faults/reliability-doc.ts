/**
 * Writes the "Fault tests" section of docs/reliability.md: replaces that section only (up to the next
 * `## ` heading) or appends it; other sections (e.g. "Bad input and abuse") are kept as they are.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import type { FaultResult, FaultSize } from './fault-scenario';
import { formatTable } from './results-table';
import { formatLoad, type RunContext } from './run-context';

const HEADING = '## Fault tests';

export function replaceSection(doc: string, section: string): string {
  const start = doc.indexOf(`\n${HEADING}\n`);
  if (start < 0) return `${doc.replace(/\s*$/, '')}\n\n${section.trim()}\n`;
  const after = doc.indexOf('\n## ', start + 1);
  const tail = after < 0 ? '' : doc.slice(after);
  return `${doc.slice(0, start)}\n${section.trim()}\n${tail}`;
}

export async function writeFaultSection(
  file: string,
  results: readonly FaultResult[],
  size: FaultSize,
  totalSeconds: number,
  run: RunContext,
): Promise<void> {
  const notes = results.flatMap((r) => r.notes.map((n) => `- ${r.fault}: ${n}`));
  const passed = results.filter((r) => r.passed).length;
  const section = [
    HEADING,
    '',
    `Last run: started ${run.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, \`pnpm test:faults\`, ` +
      `${passed} of ${results.length} scenarios passed, ${totalSeconds} s in all on the shared 2-core machine, ` +
      `commit ${run.commit}${run.uncommitted.length ? ` **with uncommitted changes** (${run.uncommitted.join(', ')})` : ''}, ` +
      `1-minute load average ${formatLoad(run.load)} (mean, lowest–highest of ${run.load.samples} samples; column "load": the mean during each scenario).`,
    `Size: seed ${size.seed}, scale ${size.scale}, ${size.days} days from ${size.start}, validators capped at ${size.rate} taps/s, ` +
      `${size.concurrency} requests in flight; a tap-load fault ${size.faultAfterMs} ms into the load, a ratings fault ${size.ratingsFaultAfterMs} ms into the ratings, ` +
      `a drain fault once ${Math.round(size.drainFaultAt * 100)} % of the backlog is processed (env FAULT_*; see test/faults/README.md).`,
    'Each scenario: a fresh database on a private PostgreSQL, a private Redis, 2 tap-ingest + 3 aggregator processes (and a rider-app',
    'for registrations and ratings), the simulator posting round-robin to both ingest replicas. The fault strikes during the tap',
    'upload (worker-sigkill … replay), while ratings are posted (ratings-*), or while 3 aggregators started only after taps and',
    'ratings drain the backlog (drain-*). "taps acked" = distinct (device, seq) a 200',
    'acknowledged (the driver\'s own record); "acked missing" = acknowledged but absent from `tap_keys`; "duplicates" = (device, seq)',
    'stored twice in `tap_keys` or `taps`; "differences" = `recompute --check` differences over every period + `verify` differences',
    "against the simulator's ground truth (counts, rankings, volume).",
    '',
    formatTable(results),
    '',
    ...(notes.length ? ['Notes:', '', ...notes, ''] : []),
    'Limits: the sizes are small so that the suite fits CI on 2 cores; the Redis restart loses everything (no AOF here, unlike',
    'the deployment) and so covers the worst case of a Redis failover; PostgreSQL is restarted during the tap upload only. A',
    'larger run: e.g. `FAULT_SCALE=0.05 FAULT_DAYS=7 FAULT_RATE=1000 pnpm test:faults`.',
    '',
  ].join('\n');
  const doc = existsSync(file) ? await readFile(file, 'utf8') : '# Reliability\n';
  // Re-read right before writing: another engineer may be editing their section of the same file.
  const latest = existsSync(file) ? await readFile(file, 'utf8') : doc;
  await writeFile(file, replaceSection(latest, section));
}
