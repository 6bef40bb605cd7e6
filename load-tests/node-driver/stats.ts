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

/**
 * Proportional set size of a process (its private pages plus its share of pages it shares, such as
 * PostgreSQL's shared buffers): /proc/<pid>/smaps_rollup, readable for our own processes or as root.
 * Undefined when unreadable or gone.
 */
export function samplePss(pid: number): number | undefined {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** V8 heap of a Node process as it reports it (heap-probe.ts over the IPC channel), in MiB. */
export interface HeapSample {
  heapUsedMiB: number;
  heapTotalMiB: number;
}

export interface WatchedProcess {
  label: string;
  pid: number;
  /** The latest V8 heap figures of the process, when it reports them (local stack). */
  heap?: () => HeapSample | undefined;
}

/** Several processes summed per sample, whose pids change (PostgreSQL backends of one database). */
export interface WatchedGroup {
  label: string;
  pids: () => readonly number[];
}

/** Mean and peak of a series of samples. */
export interface Series {
  mean: number;
  peak: number;
}

export interface ProcessUsage {
  label: string;
  /** The pid, or the number of processes seen for a group. */
  pid: number;
  group?: boolean;
  samples: number;
  rssStartMiB: number;
  rssMaxMiB: number;
  rssEndMiB: number;
  rss: Series;
  /** PSS (shared pages apportioned); groups only, where RSS would count shared buffers once per backend. */
  pss?: Series;
  heapUsed?: Series;
  heapTotal?: Series;
  peakRssMiB: number;
  /** Average CPU use over the sampled interval, in cores (1.0 = one core busy). */
  cpuCores: number;
}

class Accumulator {
  n = 0;
  sum = 0;
  peak = -Infinity;
  add(v: number | undefined): void {
    if (v === undefined || !Number.isFinite(v)) return;
    this.n++;
    this.sum += v;
    this.peak = Math.max(this.peak, v);
  }
  series(): Series | undefined {
    return this.n > 0 ? { mean: this.sum / this.n, peak: this.peak } : undefined;
  }
}

/** Samples the processes (and groups) every `intervalMs` until stop() is called: mean and peak of each. */
export function watchProcesses(
  processes: readonly WatchedProcess[],
  intervalMs = 250,
  groups: readonly WatchedGroup[] = [],
): { stop: () => ProcessUsage[] } {
  const startedAt = performance.now();
  const first = new Map(processes.map((p) => [p.pid, sampleProcess(p.pid)]));
  const acc = new Map(processes.map((p) => [p.pid, { rss: new Accumulator(), heapUsed: new Accumulator(), heapTotal: new Accumulator() }]));
  const groupAcc = groups.map(() => ({ rss: new Accumulator(), pss: new Accumulator(), seen: new Set<number>(), cpuFirst: new Map<number, number>(), cpuLast: new Map<number, number>() }));
  const tick = (): void => {
    for (const p of processes) {
      const s = sampleProcess(p.pid);
      const a = acc.get(p.pid)!;
      a.rss.add(s?.rssMiB);
      const h = s ? p.heap?.() : undefined;
      a.heapUsed.add(h?.heapUsedMiB);
      a.heapTotal.add(h?.heapTotalMiB);
    }
    groups.forEach((g, i) => {
      const a = groupAcc[i]!;
      let rss = 0;
      let pss = 0;
      let any = false;
      for (const pid of g.pids()) {
        const s = sampleProcess(pid);
        if (!s) continue;
        any = true;
        a.seen.add(pid);
        if (!a.cpuFirst.has(pid)) a.cpuFirst.set(pid, s.cpuSeconds);
        a.cpuLast.set(pid, s.cpuSeconds);
        rss += s.rssMiB;
        pss += samplePss(pid) ?? NaN;
      }
      if (any) {
        a.rss.add(rss);
        a.pss.add(pss);
      }
    });
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      tick();
      const seconds = (performance.now() - startedAt) / 1000;
      const none: Series = { mean: NaN, peak: NaN };
      const rows: ProcessUsage[] = processes.map((p) => {
        const a = first.get(p.pid);
        const b = sampleProcess(p.pid);
        const x = acc.get(p.pid)!;
        const rss = x.rss.series() ?? none;
        return {
          label: p.label,
          pid: p.pid,
          samples: x.rss.n,
          rssStartMiB: a?.rssMiB ?? NaN,
          rssMaxMiB: rss.peak,
          rssEndMiB: b?.rssMiB ?? NaN,
          rss,
          heapUsed: x.heapUsed.series(),
          heapTotal: x.heapTotal.series(),
          peakRssMiB: b?.peakRssMiB ?? NaN,
          cpuCores: a && b ? (b.cpuSeconds - a.cpuSeconds) / seconds : NaN,
        };
      });
      groups.forEach((g, i) => {
        const a = groupAcc[i]!;
        const rss = a.rss.series() ?? none;
        let cpu = 0;
        for (const [pid, c0] of a.cpuFirst) cpu += (a.cpuLast.get(pid) ?? c0) - c0;
        rows.push({
          label: g.label,
          pid: a.seen.size,
          group: true,
          samples: a.rss.n,
          rssStartMiB: NaN,
          rssMaxMiB: rss.peak,
          rssEndMiB: NaN,
          rss,
          pss: a.pss.series(),
          peakRssMiB: NaN,
          cpuCores: cpu / seconds,
        });
      });
      return rows;
    },
  };
}
