/**
 * An open-loop, constant-arrival-rate runner: k6's `constant-arrival-rate` executor in Node.
 * Iterations start on schedule whether or not earlier ones finished; when `maxInFlight` are already
 * running, the iteration is dropped and counted (k6's `dropped_iterations`), never queued, so a slow
 * server shows up as drops and latency instead of a silently lower rate.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface ArrivalOptions {
  /** Iterations per second. */
  rate: number;
  durationMs: number;
  /** Concurrency cap (k6 maxVUs). */
  maxInFlight: number;
  /** Scheduler tick; iterations due within a tick start together. */
  tickMs?: number;
  /** Injected for tests: a fake clock and a sleep that advances it. */
  now?: () => number;
  sleep?: (ms: number) => Promise<unknown>;
}

export interface ArrivalResult {
  started: number;
  dropped: number;
  /** Iterations that threw (a bug in the iteration or a transport error). */
  errored: number;
  elapsedMs: number;
}

export async function runAtConstantRate(
  options: ArrivalOptions,
  iteration: (index: number) => Promise<void>,
  onError: (err: unknown) => void = () => undefined,
): Promise<ArrivalResult> {
  const now = options.now ?? (() => performance.now());
  const tickMs = options.tickMs ?? 5;
  const wait = options.sleep ?? ((ms: number) => sleep(ms));
  const start = now();
  let due = 0;
  let started = 0;
  let dropped = 0;
  let errored = 0;
  let inFlight = 0;
  const running = new Set<Promise<void>>();

  for (;;) {
    const elapsed = now() - start;
    if (elapsed >= options.durationMs) break;
    const shouldHave = Math.floor((elapsed / 1000) * options.rate) + 1;
    while (due < shouldHave) {
      const index = due++;
      if (inFlight >= options.maxInFlight) {
        dropped++;
        continue;
      }
      inFlight++;
      started++;
      const p: Promise<void> = iteration(index)
        .catch((err: unknown) => {
          errored++;
          onError(err);
        })
        .finally(() => {
          inFlight--;
          running.delete(p);
        });
      running.add(p);
    }
    await wait(tickMs);
  }
  // Like k6's gracefulStop: let the iterations in flight finish.
  await Promise.all([...running]);
  return { started, dropped, errored, elapsedMs: now() - start };
}
