/** Markdown tables of a driver run, ready to paste into docs/performance.md. */
import type { DriverRun } from './main';
import type { ProcessUsage } from './stats';

const f = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '—');

export function formatReport(run: DriverRun): string {
  const la = (l?: number[]) => (l ? l.map((x) => x.toFixed(1)).join(' / ') : '—');
  const out: string[] = [
    `Load driver run ${run.startedAt} (Node ${run.node}), load average (1/5/15 min) ${la(run.loadAverage?.start)} at the start, ${la(run.loadAverage?.end)} at the end`,
    '',
    ...run.notes.map((n) => `- ${n}`),
    '',
  ];
  if (run.seeding) {
    out.push(`### seeding: ${run.seeding.label}, ${f(run.seeding.seconds)} s`, '', ...memoryTable(run.seeding.processes), '');
  }
  for (const { result, processes, baseline } of run.results) {
    const a = result.arrival;
    const floor = baseline?.latency.find((l) => l.name === '(all)');
    out.push(
      `### ${result.mix}: ${String(result.params.rate)} it/s for ${String(result.params.duration)} (max ${String(result.params.maxVUs)} in flight)`,
      '',
      `iterations started ${a.started}, dropped ${a.dropped}, errored ${a.errored}, elapsed ${f(a.elapsedMs / 1000)} s`,
      '',
      '| request | count | failed | req/s | p50 ms | p95 ms | p99 ms | max ms |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...result.latency.map((l) => `| ${l.name} | ${l.count} | ${l.failed} | ${f(l.rps)} | ${f(l.p50)} | ${f(l.p95)} | ${f(l.p99)} | ${f(l.max)} |`),
      ...(floor
        ? [
            `| baseline: GET /healthz at the same rate, just before | ${floor.count} | ${floor.failed} | ${f(floor.rps)} | ${f(floor.p50)} | ${f(floor.p95)} | ${f(floor.p99)} | ${f(floor.max)} |`,
            '',
            ...(floor.failed > 0
              ? [
                  floor.failed === floor.count
                    ? '- the baseline requests did not answer 200 (the service has no /healthz): still an HTTP round trip through the service, but a 404 one'
                    : `- ${floor.failed} of ${floor.count} baseline requests failed (timeouts or errors: the machine or the service is saturated)`,
                ]
              : []),
            ...result.latency
              .filter((l) => l.name !== '(all)')
              .map((l) => `- ${l.name}: p50 ${f(l.p50 / floor.p50)}× and p99 ${f(l.p99 / floor.p99)}× the baseline's`),
          ]
        : []),
      '',
      '| threshold | limit | actual | |',
      '|---|---:|---:|---|',
      ...result.thresholds.map((t) => `| ${t.name} | ${f(t.limit, 3)} | ${f(t.actual, 3)} | ${t.passed ? 'pass' : '**FAIL**'} |`),
      '',
      ...memoryTable(processes),
      '',
      ...result.notes.map((n) => `- ${n}`),
      '',
    );
  }
  return out.join('\n');
}

/**
 * Memory and CPU of each process over a phase: RSS mean and peak of the 250 ms samples, V8 heap used
 * (and allocated) when the process reports it, PSS for a group (PostgreSQL backends, whose RSS
 * counts the shared buffers once per backend).
 */
export function memoryTable(processes: readonly ProcessUsage[]): string[] {
  const ser = (s: { mean: number; peak: number } | undefined) => (s ? `${f(s.mean)} / ${f(s.peak)}` : '—');
  return [
    '| process | pid | samples | RSS MiB mean / peak | heap used MiB mean / peak | heap allocated MiB peak | PSS MiB mean / peak | CPU cores (avg) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...processes.map(
      (p) =>
        `| ${p.label} | ${p.group ? `${p.pid} pids` : p.pid} | ${p.samples} | ${ser(p.rss)} | ${ser(p.heapUsed)} | ${p.heapTotal ? f(p.heapTotal.peak) : '—'} | ${ser(p.pss)} | ${f(p.cpuCores, 2)} |`,
    ),
  ];
}
