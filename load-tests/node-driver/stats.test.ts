import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { watchProcesses, type HeapSample } from './stats';

describe('process sampling', () => {
  it('gives the mean and peak RSS of a process, its V8 heap from heap-probe over IPC, and a group summed with PSS', async () => {
    const heaps = new Map<number, HeapSample>();
    // A child holding ~40 MiB in a JS array for a while, with the probe preloaded as the local stack does.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--import', join(import.meta.dirname, 'heap-probe.ts'), '-e', 'globalThis.keep = Array.from({ length: 5e6 }, (_, i) => i + 0.5); setTimeout(() => {}, 30000);'],
      { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
    );
    child.on('message', (m: { rtHeap?: { heapUsed: number; heapTotal: number } }) => {
      if (m.rtHeap) heaps.set(child.pid!, { heapUsedMiB: m.rtHeap.heapUsed / 1_048_576, heapTotalMiB: m.rtHeap.heapTotal / 1_048_576 });
    });
    try {
      // start-up (tsx) and filling the array take a while on a loaded machine: wait for the filled heap
      const deadline = Date.now() + 20_000;
      while ((heaps.get(child.pid!)?.heapUsedMiB ?? 0) < 35 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const watch = watchProcesses([{ label: 'child', pid: child.pid!, heap: () => heaps.get(child.pid!) }], 100, [{ label: 'me and the child', pids: () => [process.pid, child.pid!] }]);
      await new Promise((r) => setTimeout(r, 600));
      const [one, group] = watch.stop();
      expect(one!.samples).toBeGreaterThanOrEqual(5);
      expect(one!.rss.mean).toBeGreaterThan(30);
      expect(one!.rss.peak).toBeGreaterThanOrEqual(one!.rss.mean);
      // 5e6 doubles in a packed array: ~38 MiB of heap
      expect(one!.heapUsed!.peak).toBeGreaterThan(35);
      expect(one!.heapTotal!.peak).toBeGreaterThanOrEqual(one!.heapUsed!.peak);
      expect(group).toMatchObject({ group: true, pid: 2 });
      expect(group!.rss.mean).toBeGreaterThan(one!.rss.mean);
      expect(group!.pss!.mean).toBeGreaterThan(0);
      expect(group!.pss!.mean).toBeLessThanOrEqual(group!.rss.mean + 1);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
