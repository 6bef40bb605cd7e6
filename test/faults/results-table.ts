/** The results table of the fault tests, as Markdown (readable in a terminal too). */
import type { FaultResult } from './fault-scenario';

export function formatTable(results: readonly FaultResult[]): string {
  const head = [
    'fault',
    'taps acked',
    'taps stored',
    'acked missing',
    'duplicates',
    'differences',
    'result',
    'seconds',
    'load',
  ];
  const rows = results.map((r) => [
    r.fault,
    String(r.acked),
    String(r.stored),
    String(r.missing),
    String(r.duplicates),
    String(r.differences),
    r.passed ? 'pass' : 'FAIL',
    String(r.seconds),
    r.load === undefined ? '–' : r.load.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
