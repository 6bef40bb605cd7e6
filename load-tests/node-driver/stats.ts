/**
 * Latency and failure bookkeeping per request name (k6's `name` tag), and process memory/CPU
 * sampling from /proc for the processes under test.
 */
import { readFileSync } from 'node:fs';

export interface RequestRecord {
  name: string;
  ms: number;
  /** The status was one of the request's expected statuses (k6's http_req_failed = !ok). */
  ok: boolean;
  status: number;
}

export interface LatencySummary {
  name: string;
  count: number;
  failed: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of sorted values (q in [0, 1]). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

export function summarise(records: readonly RequestRecord[], elapsedMs: number): LatencySummary[] {
  const byName = new Map<string, RequestRecord[]>();
  for (const r of records) {
    const list = byName.get(r.name) ?? [];
    list.push(r);
    byName.set(r.name, list);
  }
  const rows = [...byName.entries()].map(([name, list]) => summariseOne(name, list, elapsedMs));
  rows.push(summariseOne('(all)', records, elapsedMs));
  return rows;
}

function summariseOne(name: string, list: readonly RequestRecord[], elapsedMs: number): LatencySummary {
  const sorted = list.map((r) => r.ms).sort((a, b) => a - b);
  return {
    name,
    count: list.length,
    failed: list.filter((r) => !r.ok).length,
    rps: list.length / (elapsedMs / 1000),
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

export interface ProcessSample {
  rssMiB: number;
  /** Peak resident set since the process started (VmHWM). */
  peakRssMiB: number;
  /** user + system CPU seconds since the process started. */
  cpuSeconds: number;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** Reads /proc/<pid>; undefined when the process is gone. */
export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    // /proc/<pid>/stat: fields after the parenthesised command; utime and stime are the 14th and 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { rssMiB: kib('VmRSS') / 1024, peakRssMiB: kib('VmHWM') / 1024, cpuSeconds: ticks / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

export interface WatchedProcess {
  label: string;
  pid: number;
}

export interface ProcessUsage {
  label: string;
  pid: number;
  rssStartMiB: number;
  rssMaxMiB: number;
  rssEndMiB: number;
  peakRssMiB: number;
  /** Average CPU use over the sampled interval, in cores (1.0 = one core busy). */
  cpuCores: number;
}

/** Samples the processes every `intervalMs` until stop() is called. */
export function watchProcesses(processes: readonly WatchedProcess[], intervalMs = 250): { stop: () => ProcessUsage[] } {
  const startedAt = performance.now();
  const first = new Map(processes.map((p) => [p.pid, sampleProcess(p.pid)]));
  const maxRss = new Map(processes.map((p) => [p.pid, first.get(p.pid)?.rssMiB ?? NaN]));
  const timer = setInterval(() => {
    for (const p of processes) {
      const s = sampleProcess(p.pid);
      if (s) maxRss.set(p.pid, Math.max(maxRss.get(p.pid) ?? 0, s.rssMiB));
    }
  }, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      const seconds = (performance.now() - startedAt) / 1000;
      return processes.map((p) => {
        const a = first.get(p.pid);
        const b = sampleProcess(p.pid);
        return {
          label: p.label,
          pid: p.pid,
          rssStartMiB: a?.rssMiB ?? NaN,
          rssMaxMiB: Math.max(maxRss.get(p.pid) ?? NaN, b?.rssMiB ?? NaN),
          rssEndMiB: b?.rssMiB ?? NaN,
          peakRssMiB: b?.peakRssMiB ?? NaN,
          cpuCores: a && b ? (b.cpuSeconds - a.cpuSeconds) / seconds : NaN,
        };
      });
    },
  };
}
