import { describe, expect, it } from 'vitest';
import { createMemoryRateLimiter } from './rate-limiter';

describe('memory token bucket', () => {
  it('allows the burst, then the rate, per key', () => {
    const rl = createMemoryRateLimiter({ ratePerS: 2, burst: 4 });
    const t0 = 1_000_000;
    for (let i = 0; i < 4; i++) expect(rl.take('a', t0)).toEqual({ allowed: true, retryAfterS: 0 });
    expect(rl.take('a', t0)).toEqual({ allowed: false, retryAfterS: 1 });
    expect(rl.take('b', t0).allowed).toBe(true);
    expect(rl.take('a', t0 + 499).allowed).toBe(false);
    expect(rl.take('a', t0 + 1000).allowed).toBe(true);
    expect(rl.take('a', t0 + 10_000_000).allowed).toBe(true);
  });
  it('sweeps idle keys when full', () => {
    const rl = createMemoryRateLimiter({ ratePerS: 1, burst: 1, maxKeys: 2 });
    rl.take('a', 0);
    rl.take('b', 0);
    expect(rl.take('c', 5000).allowed).toBe(true);
  });
});
