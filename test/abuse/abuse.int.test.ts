/**
 * Abuse resistance (issue 8 §5): a per-device rate limit shared by two tap-ingest replicas through
 * Redis, and a per-client one shared by two rider-app replicas under a concurrent flood; a replayed signed request changes nothing (inside the window: duplicates; outside: 401); a
 * device cannot post as another device, and a tap for another vehicle follows `rejectVehicleMismatch`;
 * security headers on every surface of the platform.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../packages/db/src/index';
import { createTestDatabase, TEST_REDIS_URL, uniqueTestPrefix, type TestDatabase } from '../../packages/db/src/testing/index';
import { createKeyring } from '../../packages/keyring/src/index';
import { createLogger, createMetricsRegistry } from '../../packages/telemetry/src/index';
import { createIngestApp, type IngestApp } from '../../services/tap-ingest/src/app';
import type { IngestConfig } from '../../services/tap-ingest/src/ingest-config';
import { createRedisRateLimiter, type RedisRateLimiter } from '../../packages/http/src/index';
import { addTestDevice, listen, makeTap, postTaps } from '../../services/tap-ingest/src/testing/ingest-test-kit';
import { createApiClient } from '../../packages/registry/src/index';
import { createClientRateLimit } from '../../services/rider-app/src/rate-limit';
import { startRiderApp } from '../../services/rider-app/src/testing/rider-test-kit';
import { createTableChecksums, diffChecksums, sendRaw, startFuzzPlatform, type FuzzPlatform } from '../fuzz/fuzz-harness';

const keyring = createKeyring({ current: randomBytes(32) });
const logger = createLogger({ level: 'silent', service: 'abuse' });
let db: TestDatabase;
const clock = { ms: Date.parse('2022-06-01T08:00:00+08:00') };
const nowS = () => Math.floor(clock.ms / 1000);
const closers: (() => Promise<void>)[] = [];

async function replica(config: Partial<IngestConfig> = {}, rateLimiter?: RedisRateLimiter): Promise<{ ingest: IngestApp; url: string }> {
  const ingest = createIngestApp({ db: db.db, keyring, logger, registry: createMetricsRegistry('abuse', false), now: () => clock.ms, config, rateLimiter });
  const server = await listen(ingest.app);
  closers.push(async () => {
    await server.close();
    await ingest.close();
  });
  return { ingest, url: server.url };
}

beforeAll(async () => {
  db = await createTestDatabase(4);
}, 60_000);
afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await db?.drop();
});

describe('rate limit shared by two replicas (Redis)', () => {
  it('a device gets one budget across both replicas; the rest is 429 with Retry-After and nothing written', async () => {
    const prefix = `${uniqueTestPrefix('abuse-rate')}:`;
    const limiters = [0, 1].map(() => createRedisRateLimiter({ redis: TEST_REDIS_URL, prefix, ratePerS: 1, burst: 4, timeoutMs: 5000 }));
    await Promise.all(limiters.map((l) => l.ready()));
    // the buckets expire by themselves once full again (a few seconds): no clean-up of Redis needed
    closers.push(async () => {
      for (const l of limiters) await l.close();
    });
    const replicas = [await replica({}, limiters[0]), await replica({}, limiters[1])];
    const secret = await addTestDevice(db.db, keyring, 'rate-dev', 'V0123');
    const statuses: number[] = [];
    let seq = 1;
    for (let i = 0; i < 10; i++) {
      const r = await postTaps(replicas[i % 2]!.url, { deviceId: 'rate-dev', secret, body: JSON.stringify({ taps: [makeTap(seq++)] }), timestampS: nowS() });
      statuses.push(r.status);
      if (r.status === 429) {
        expect(r.headers.get('retry-after')).toBe('1');
        expect(r.json).toMatchObject({ error: { code: 'rate_limited' } });
      }
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(4);
    expect(statuses.filter((s) => s === 429)).toHaveLength(6);
    const stored = await db.db.selectFrom('taps').select(({ fn }) => fn.countAll<string>().as('n')).where('device_id', '=', 'rate-dev').executeTakeFirstOrThrow();
    expect(Number(stored.n)).toBe(4);
    // two seconds later the shared bucket has refilled two tokens, whichever replica is asked
    clock.ms += 2000;
    const after = await Promise.all([0, 1, 2].map((i) => postTaps(replicas[i % 2]!.url, { deviceId: 'rate-dev', secret, body: JSON.stringify({ taps: [makeTap(seq++)] }), timestampS: nowS() })));
    expect(after.map((r) => r.status).sort()).toEqual([200, 200, 429]);
  });
});

describe('rider app: per-client rate limit shared by two replicas (Redis)', () => {
  it('a concurrent flood of 40 requests from one client across both replicas gets exactly the burst; the rest is 429 with Retry-After', async () => {
    const env = { REDIS_URL: TEST_REDIS_URL, RIDER_CLIENT_RATE_PER_S: 1, RIDER_CLIENT_BURST: 6 };
    const prefix = `${uniqueTestPrefix('abuse-client')}:`;
    const limits = await Promise.all([0, 1].map(() => createClientRateLimit(env, logger, { prefix })));
    const { token } = await createApiClient({ db: db.db, keyring }, 'flooding backend');
    const now = () => new Date(clock.ms);
    const apps = await Promise.all(limits.map((l) => startRiderApp(db.db, keyring, now, { rateLimiter: l!.limiter, token })));
    closers.push(async () => {
      for (const a of apps) await a.close();
      for (const l of limits) await l?.close();
    });
    const flood = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const res = await fetch(`${apps[i % 2]!.base}/v1/persons/00000000-0000-4000-8000-000000000000/rides?from=2022-05-01&to=2022-05-31`, {
          headers: { authorization: `Bearer ${token}` },
        });
        return { status: res.status, retryAfter: res.headers.get('retry-after'), json: (await res.json()) as { error?: { code: string } } };
      }),
    );
    // an unknown person is 404: those requests were let through the limiter
    expect(flood.filter((r) => r.status === 404)).toHaveLength(6);
    const refused = flood.filter((r) => r.status === 429);
    expect(refused).toHaveLength(34);
    for (const r of refused) {
      expect(r.retryAfter).toBe('1');
      expect(r.json.error?.code).toBe('rate_limited');
    }
  });
});

describe('replayed signed requests', () => {
  it('inside the window a replay is answered as duplicates and changes no table (its bad tap is quarantined once); outside it is 401 and changes nothing', async () => {
    const { url } = await replica({ deviceRatePerS: 0 });
    const checksums = createTableChecksums(db.db);
    const secret = await addTestDevice(db.db, keyring, 'replay-dev', 'V0123');
    const body = JSON.stringify({ taps: [makeTap(1), makeTap(2), makeTap(3, { media: { type: 'transit_card', id: '1', cardKind: 'no-such-kind' } })] });
    const ts = nowS();
    const first = await postTaps(url, { deviceId: 'replay-dev', secret, body, timestampS: ts });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ accepted: 2, duplicates: 0 });
    expect((first.json.rejected as unknown[]).length).toBe(1);

    const before = await checksums();
    // the same bytes, headers and signature, 299 s later (still inside the 300 s window)
    clock.ms += 299_000;
    const replay = await postTaps(url, { deviceId: 'replay-dev', secret, body, timestampS: ts });
    expect(replay.status).toBe(200);
    expect(replay.json).toMatchObject({ accepted: 0, duplicates: 2 });
    // the bad tap is rejected again with the same code, and nothing changed: no fact (taps, batches,
    // outbox, counts) and no quarantine row — (device, seq, content hash) is unique in quarantined_taps,
    // so a replay cannot grow the quarantine (migration 20261129000300).
    expect(replay.json.rejected).toEqual(first.json.rejected);
    expect(diffChecksums(before, await checksums())).toEqual([]);
    const q = await sql<{ seq: string; code: string }>`select seq, code from quarantined_taps where device_id = 'replay-dev' order by id`.execute(db.db);
    expect(q.rows.map((r) => [Number(r.seq), r.code])).toEqual([[3, (first.json.rejected as { code: string }[])[0]!.code]]);
    const afterReplay = await checksums();

    // outside the window the signature's timestamp is refused before anything is read
    clock.ms += 2000;
    const late = await postTaps(url, { deviceId: 'replay-dev', secret, body, timestampS: ts });
    expect(late.status).toBe(401);
    expect(late.json).toMatchObject({ error: { code: 'unauthorized', details: { reason: 'clock_skew' } } });
    expect(diffChecksums(afterReplay, await checksums())).toEqual([]);
  });
});

describe("another device's taps", () => {
  it('a device cannot post as another device: its signature does not verify for the other id (401, nothing written)', async () => {
    const { url } = await replica({ deviceRatePerS: 0 });
    const checksums = createTableChecksums(db.db);
    const mine = await addTestDevice(db.db, keyring, 'dev-a', 'VA');
    await addTestDevice(db.db, keyring, 'dev-b', 'VB');
    const before = await checksums();
    const r = await postTaps(url, { deviceId: 'dev-b', secret: mine, body: JSON.stringify({ taps: [makeTap(1, { vehicleId: 'VB' })] }), timestampS: nowS() });
    expect(r.status).toBe(401);
    expect(diffChecksums(before, await checksums())).toEqual([]);
  });

  it('taps for a vehicle that is not the device\'s: accepted and counted by default, rejected vehicle_mismatch and quarantined with rejectVehicleMismatch', async () => {
    const secret = await addTestDevice(db.db, keyring, 'dev-v', 'V0123');
    const lenient = await replica({ deviceRatePerS: 0 });
    const strict = await replica({ deviceRatePerS: 0, rejectVehicleMismatch: true });
    const a = await postTaps(lenient.url, { deviceId: 'dev-v', secret, body: JSON.stringify({ taps: [makeTap(1, { vehicleId: 'V9999' })] }), timestampS: nowS() });
    expect(a.json).toMatchObject({ accepted: 1, rejected: [] });
    expect(await lenient.ingest.metrics.vehicleMismatch.get()).toMatchObject({ values: [{ value: 1 }] });
    const b = await postTaps(strict.url, { deviceId: 'dev-v', secret, body: JSON.stringify({ taps: [makeTap(2, { vehicleId: 'V9999' }), makeTap(3)] }), timestampS: nowS() });
    expect(b.json).toMatchObject({ accepted: 1, rejected: [{ seq: 2, code: 'vehicle_mismatch' }] });
    const q = await sql<{ code: string }>`select code from quarantined_taps where device_id = 'dev-v'`.execute(db.db);
    expect(q.rows.map((r) => r.code)).toEqual(['vehicle_mismatch']);
  });
});

describe('security headers on every surface', () => {
  let p: FuzzPlatform;
  beforeAll(async () => {
    p = await startFuzzPlatform();
  }, 120_000);
  afterAll(async () => {
    await p?.close();
  });

  it('validator API, rider app API, staff API, console, health, 404: nosniff, DENY, no-referrer, no X-Powered-By', async () => {
    const surfaces: [string, string, Record<string, string>?][] = [
      ['POST', '/v1/taps'],
      ['GET', '/v1/openapi.json'],
      ['GET', '/v1/persons/x/rides'],
      ['GET', '/v1/persons/x/rides', { authorization: `Bearer ${p.clientToken}` }],
      ['GET', '/api/openapi.json'],
      ['GET', '/api/rankings?period=2022-Q3'],
      ['GET', '/api/auth/me', { authorization: `Bearer ${p.staffToken}` }],
      ['GET', '/console/'],
      ['GET', '/healthz'],
      ['GET', '/no/such/route'],
    ];
    for (const [method, path, headers] of surfaces) {
      const res = await fetch(p.url + path, { method, headers });
      const h = Object.fromEntries(['x-content-type-options', 'x-frame-options', 'referrer-policy', 'x-powered-by'].map((k) => [k, res.headers.get(k)]));
      expect({ path, ...h }).toEqual({ path, 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer', 'x-powered-by': null });
      await res.arrayBuffer();
    }
    const consolePage = await fetch(`${p.url}/console/`);
    expect(consolePage.headers.get('content-security-policy')).toMatch(/default-src/);
    // errors never carry a stack or internals
    const bad = await sendRaw(p.url, { method: 'POST', path: '/v1/persons/%D8%00/media', headers: { authorization: `Bearer ${p.clientToken}` } });
    expect(bad.status).toBe(400);
    expect(bad.text).not.toMatch(/at .*\.ts:\d+/);
  });
});
