/**
 * The rider app's per-client rate limit against the real Redis and PostgreSQL: two app instances
 * (two replicas) sharing one Redis draw from one budget per client; a refused request is 429 with
 * Retry-After and the JSON error shape, and writes nothing; another client has its own budget.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@ridetally/db';
import { createTestDatabase, TEST_REDIS_URL, uniqueTestPrefix, type TestDatabase } from '@ridetally/db/testing';
import { createRedisRateLimiter, type RedisRateLimiter } from '@ridetally/http';
import { createApiClient } from '@ridetally/registry';
import { makeIdNumber, testClock, testKeyring } from '@ridetally/registry/testing';
import { createLogger } from '@ridetally/telemetry';
import { createClientRateLimit } from './rate-limit';
import { startRiderApp, type RiderHarness } from './testing/rider-test-kit';

let tdb: TestDatabase;
const keyring = testKeyring();
const clock = testClock('2022-05-25T12:00:00+08:00');
const logger = createLogger({ level: 'silent', service: 'rate-limit-test' });
const limiters: RedisRateLimiter[] = [];
const apps: RiderHarness[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  for (const a of apps) await a.close();
  for (const l of limiters) await l.close();
  await tdb.drop();
});

async function post(base: string, token: string | null, path: string, body: unknown): Promise<{ status: number; retryAfter: string | null; body: unknown }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + path, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}

const personCount = async (): Promise<number> =>
  (await sql<{ n: number }>`SELECT count(*)::int AS n FROM persons`.execute(tdb.db)).rows[0]!.n;

describe('per-client rate limit shared through Redis', () => {
  it('two replicas draw from one budget per client: burst 4 → 4 answered and 6 × 429 across both, nothing written by a refused request', async () => {
    const prefix = `${uniqueTestPrefix('client-rate')}:`;
    const shared = [0, 1].map(() => createRedisRateLimiter({ redis: TEST_REDIS_URL, prefix, ratePerS: 1, burst: 4, timeoutMs: 5000 }));
    limiters.push(...shared);
    await Promise.all(shared.map((l) => l.ready()));
    const { token } = await createApiClient({ db: tdb.db, keyring }, 'rate test backend');
    const [a, b] = await Promise.all(shared.map((rateLimiter) => startRiderApp(tdb.db, keyring, clock.now, { rateLimiter, token })));
    apps.push(a!, b!);

    const before = await personCount();
    // Sequential, alternating replicas: a distinct new person each time, so every allowed request writes a row.
    const answers = [];
    for (let i = 0; i < 10; i++) {
      answers.push(await post((i % 2 ? a : b)!.base, token, '/v1/persons', { idNumber: makeIdNumber('141102', '19900101', 500 + i), name: '限流测试' }));
    }
    expect(answers.map((r) => r.status)).toEqual([201, 201, 201, 201, 429, 429, 429, 429, 429, 429]);
    for (const refused of answers.slice(4)) {
      expect(refused.retryAfter).toBe('1');
      expect(refused.body).toEqual({ error: { code: 'rate_limited', message: 'too many requests from this client', details: { retryAfterS: 1 } } });
    }
    expect(await personCount()).toBe(before + 4);

    // Authentication comes first: a bad token is 401 even while the budget is spent, and costs nothing.
    expect((await post(a!.base, 'rta_nope', '/v1/persons', {})).status).toBe(401);
    // Another client has its own budget on the same replicas.
    const other = await createApiClient({ db: tdb.db, keyring }, 'another backend');
    expect((await post(b!.base, other.token, '/v1/persons', { idNumber: makeIdNumber('141102', '19900101', 600), name: '另一个' })).status).toBe(201);

    // Two seconds later (the apps' clock): 2 more tokens, whichever replica is asked.
    clock.advance(2000);
    const later = [];
    for (let i = 0; i < 4; i++) later.push((await post((i % 2 ? b : a)!.base, token, '/v1/persons', { idNumber: makeIdNumber('141102', '19900101', 700 + i), name: '稍后' })).status);
    expect(later).toEqual([201, 201, 429, 429]);
  });

  it('is built from the environment: Redis with REDIS_URL (shared), memory without it, none at rate 0', async () => {
    expect(await createClientRateLimit({ RIDER_CLIENT_RATE_PER_S: 0, REDIS_URL: TEST_REDIS_URL, RIDER_CLIENT_BURST: undefined }, logger)).toBeUndefined();

    const memory = await createClientRateLimit({ RIDER_CLIENT_RATE_PER_S: 5, REDIS_URL: undefined, RIDER_CLIENT_BURST: undefined }, logger);
    expect(memory).toMatchObject({ store: 'memory', ratePerS: 5, burst: 10 });
    const t0 = Date.parse('2022-05-25T04:00:00Z');
    const local = Array.from({ length: 12 }, () => memory!.limiter.take('c1', t0));
    expect(local.filter((d) => (d as { allowed: boolean }).allowed)).toHaveLength(10);

    const prefix = `${uniqueTestPrefix('client-rate-env')}:`;
    const env = { RIDER_CLIENT_RATE_PER_S: 2, REDIS_URL: TEST_REDIS_URL, RIDER_CLIENT_BURST: 3 };
    const [r1, r2] = await Promise.all([createClientRateLimit(env, logger, { prefix }), createClientRateLimit(env, logger, { prefix })]);
    try {
      expect(r1).toMatchObject({ store: 'redis', ratePerS: 2, burst: 3 });
      const decisions = await Promise.all(Array.from({ length: 8 }, (_, i) => Promise.resolve((i % 2 ? r1! : r2!).limiter.take('c1', t0))));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(3);
    } finally {
      await r1?.close();
      await r2?.close();
    }
  });
});
