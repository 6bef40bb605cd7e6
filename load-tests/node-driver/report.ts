/** Markdown tables of a driver run, ready to paste into docs/performance.md. */
import type { DriverRun } from './main';

const f = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '—');

export function formatReport(run: DriverRun): string {
  const out: string[] = [`Load driver run ${run.startedAt} (Node ${run.node})`, '', ...run.notes.map((n) => `- ${n}`), ''];
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
            ...(floor.failed > 0 ? ['- the baseline requests did not answer 200 (the service has no /healthz): still an HTTP round trip through the service, but a 404 one'] : []),
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
      '| process | pid | RSS start MiB | RSS max MiB | RSS end MiB | CPU cores (avg) |',
      '|---|---:|---:|---:|---:|---:|',
      ...processes.map((p) => `| ${p.label} | ${p.pid} | ${f(p.rssStartMiB)} | ${f(p.rssMaxMiB)} | ${f(p.rssEndMiB)} | ${f(p.cpuCores, 2)} |`),
      '',
      ...result.notes.map((n) => `- ${n}`),
      '',
    );
  }
  return out.join('\n');
}
