/**
 * What a results table must say about the run it came from: when it started, the commit it ran on
 * (and any uncommitted changes in the checkout, which the spawned services ran too), and the load
 * average of the machine during each scenario and the whole run (the machine is shared: timings mean
 * little without it).
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';

export interface LoadSummary {
  /** 1-minute load average: mean, lowest and highest of the samples. */
  mean: number;
  min: number;
  max: number;
  samples: number;
}

export interface RunContext {
  startedAt: Date;
  /** `git rev-parse --short HEAD` at the start, or "unknown" outside a git checkout. */
  commit: string;
  /** Changed or untracked paths at the start (`git status --porcelain`), docs/ left out. */
  uncommitted: string[];
  load: LoadSummary;
}

export function summarizeLoad(samples: readonly number[]): LoadSummary {
  if (samples.length === 0) return { mean: 0, min: 0, max: 0, samples: 0 };
  return {
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
    min: Math.min(...samples),
    max: Math.max(...samples),
    samples: samples.length,
  };
}

export function formatLoad(load: LoadSummary): string {
  return `${load.mean.toFixed(1)} (${load.min.toFixed(1)}–${load.max.toFixed(1)})`;
}

/** Samples the 1-minute load average every `everyMs`; `between(from, to)` summarizes a stretch of the run. */
export function startLoadSampler(everyMs = 5000): {
  between(from: number, to: number): LoadSummary;
  stop(): void;
} {
  const samples: { at: number; load: number }[] = [];
  const take = () => samples.push({ at: Date.now(), load: loadavg()[0]! });
  take();
  const timer = setInterval(take, everyMs);
  timer.unref();
  return {
    between(from, to) {
      take();
      return summarizeLoad(samples.filter((s) => s.at >= from && s.at <= to).map((s) => s.load));
    },
    stop: () => clearInterval(timer),
  };
}

/** The commit and uncommitted paths of the checkout at `root`. */
export function readCheckout(root: string): { commit: string; uncommitted: string[] } {
  const git = (...args: string[]) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8' });
  try {
    const commit = git('rev-parse', '--short', 'HEAD').trim();
    const uncommitted = git('status', '--porcelain')
      .split('\n')
      .map((line) => line.slice(3).trim())
      .filter((path) => path !== '' && !path.startsWith('docs/'));
    return { commit, uncommitted };
  } catch {
    return { commit: 'unknown', uncommitted: [] };
  }
}
