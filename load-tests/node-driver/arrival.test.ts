import { describe, expect, it } from 'vitest';
import { runAtConstantRate } from './arrival';

/** A fake clock: sleeping advances it; iterations finish when the clock passes their end. */
function fakeClock() {
  let t = 0;
  const waiters: { at: number; resolve: () => void }[] = [];
  return {
    now: () => t,
    sleep: (ms: number) => {
      t += ms;
      for (const w of waiters.splice(0).sort((a, b) => a.at - b.at)) {
        if (w.at <= t) w.resolve();
        else waiters.push(w);
      }
      return Promise.resolve();
    },
    /** An iteration that takes `ms` of fake time. */
    busy: (ms: number) => new Promise<void>((resolve) => waiters.push({ at: t + ms, resolve })),
    flush: () => {
      for (const w of waiters.splice(0)) w.resolve();
    },
  };
}

describe('runAtConstantRate', () => {
  it('starts rate × duration iterations when the server keeps up', async () => {
    const clock = fakeClock();
    const r = await runAtConstantRate({ rate: 50, durationMs: 2000, maxInFlight: 10, tickMs: 5, now: clock.now, sleep: clock.sleep }, () =>
      clock.busy(20),
    );
    expect(r.started).toBe(100);
    expect(r.dropped).toBe(0);
    expect(r.errored).toBe(0);
  });

  it('drops, never queues, iterations beyond the in-flight cap (k6 dropped_iterations)', async () => {
    const clock = fakeClock();
    // No iteration finishes before the run's 1 s is over: only the first 10 (the cap) can start.
    const sleep = async (ms: number) => {
      await clock.sleep(ms);
      if (clock.now() >= 1000) clock.flush();
    };
    const r = await runAtConstantRate({ rate: 100, durationMs: 1000, maxInFlight: 10, tickMs: 5, now: clock.now, sleep }, () =>
      clock.busy(60_000),
    );
    expect(r.started).toBe(10);
    expect(r.dropped).toBe(90);
  });

  it('counts iterations that throw and keeps going', async () => {
    const clock = fakeClock();
    const seen: unknown[] = [];
    const r = await runAtConstantRate(
      { rate: 10, durationMs: 1000, maxInFlight: 5, tickMs: 5, now: clock.now, sleep: clock.sleep },
      (i) => (i % 2 === 0 ? Promise.reject(new Error('boom')) : Promise.resolve()),
      (err) => seen.push(err),
    );
    expect(r.started).toBe(10);
    expect(r.errored).toBe(5);
    expect(seen).toHaveLength(5);
  });
});
