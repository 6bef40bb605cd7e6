/** The Redis token bucket against the real Redis: two limiter instances (two replicas) share one budget. */
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_REDIS_URL, uniqueTestPrefix } from '@ridetally/db/testing';
import { createRedisRateLimiter } from './redis-rate-limiter';

const prefix = `${uniqueTestPrefix('rate')}:`;
const admin = new Redis(TEST_REDIS_URL);

afterAll(async () => {
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length) await admin.del(...keys);
  admin.disconnect();
});

async function unusedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('Redis token bucket', () => {
  it('two instances draw from one budget: burst in total, then the refill rate', async () => {
    const a = createRedisRateLimiter({ redis: TEST_REDIS_URL, prefix, ratePerS: 5, burst: 10, timeoutMs: 5000 });
    const b = createRedisRateLimiter({ redis: TEST_REDIS_URL, prefix, ratePerS: 5, burst: 10, timeoutMs: 5000 });
    try {
      await Promise.all([a.ready(), b.ready()]);
      const t0 = 1_700_000_000_000;
      const first = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).take('dev-1', t0)));
      expect(first.filter((d) => d.allowed)).toHaveLength(10);
      const refused = first.find((d) => !d.allowed);
      expect(refused?.retryAfterS).toBe(1);
      // another key has its own budget
      expect((await a.take('dev-2', t0)).allowed).toBe(true);
      // one second later: 5 more tokens, shared
      const later = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).take('dev-1', t0 + 1000)));
      expect(later.filter((d) => d.allowed)).toHaveLength(5);
      // a replica whose clock is behind does not refill the bucket backwards
      expect((await b.take('dev-1', t0 + 500)).allowed).toBe(false);
      // the bucket expires once it would be full again
      const ttl = await admin.pttl(`${prefix}dev-1`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3000);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('Redis down: fails open to a local bucket of the same rate, quickly, and reports the error', async () => {
    const errors: Error[] = [];
    const dead = createRedisRateLimiter({ redis: `redis://127.0.0.1:${await unusedPort()}`, prefix, ratePerS: 1, burst: 3, timeoutMs: 100, onError: (e) => errors.push(e) });
    try {
      const started = performance.now();
      const decisions = [];
      for (let i = 0; i < 5; i++) decisions.push(await dead.take('dev-x', 1_700_000_000_000));
      expect(performance.now() - started).toBeLessThan(2000);
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false, false]);
      expect(errors.length).toBe(5);
    } finally {
      await dead.close();
    }
  });
});
