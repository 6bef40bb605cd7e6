import { createHmac } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTapPoster, postRatingsByTapId, tapKey, type FetchLike } from './http.driver';
import type { SimTap, TapBatch } from './traffic.model';

function batch(deviceId: string, seqs: number[]): TapBatch {
  const taps: SimTap[] = seqs.map((seq) => ({
    deviceId,
    seq,
    tappedAt: Date.parse('2022-05-09T07:41:02+08:00') + seq * 1000,
    vehicleId: 'V0001',
    routeId: 'R1',
    stopId: 'R1-S01',
    media: { type: 'transit_card', id: '3101000012345678', kind: 'normal' },
    riderRef: null,
    ratings: null,
  }));
  return { deviceId, uploadAt: 0, taps, resend: false };
}

interface Seen {
  deviceId: string;
  seqs: number[];
  signatureOk: boolean;
}

/** A fake ingest: checks signatures, fails the first attempts as scripted, tracks concurrency. */
function fakeIngest(script: (attempt: number, deviceId: string) => number | 'network') {
  const seen: Seen[] = [];
  const attempts = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  const perDevice = new Map<string, number>();
  let maxPerDevice = 0;
  const fetch: FetchLike = async (_url, init) => {
    const deviceId = init.headers['x-device-id']!;
    const body = init.body!;
    const key = `${deviceId}:${body}`;
    const attempt = attempts.get(key) ?? 0;
    attempts.set(key, attempt + 1);
    inFlight++;
    perDevice.set(deviceId, (perDevice.get(deviceId) ?? 0) + 1);
    maxInFlight = Math.max(maxInFlight, inFlight);
    maxPerDevice = Math.max(maxPerDevice, perDevice.get(deviceId)!);
    await new Promise((r) => setImmediate(r));
    inFlight--;
    perDevice.set(deviceId, perDevice.get(deviceId)! - 1);
    const expected = createHmac('sha256', `secret-${deviceId}`)
      .update(`${init.headers['x-timestamp']}.${body}`)
      .digest('hex');
    const seqs = (JSON.parse(body) as { taps: { seq: number }[] }).taps.map((t) => t.seq);
    seen.push({ deviceId, seqs, signatureOk: expected === init.headers['x-signature'] });
    const outcome = script(attempt, deviceId);
    if (outcome === 'network') throw new Error('socket hang up');
    const payload =
      outcome === 200
        ? { accepted: seqs.length, duplicates: 0, rejected: [] }
        : { error: { code: 'x', message: 'x' } };
    return {
      status: outcome,
      headers: { get: (n: string) => (n === 'retry-after' && outcome === 503 ? '0' : null) },
      text: () => Promise.resolve(JSON.stringify(payload)),
    };
  };
  return { fetch, seen, stats: () => ({ maxInFlight, maxPerDevice }) };
}

const secrets = new Map(['D1', 'D2', 'D3', 'D4'].map((d) => [d, `secret-${d}`]));

describe('tap poster (SPEC §3 client)', () => {
  it('signs every request, retries 429/503/network errors with the same seqs, and bounds concurrency', async () => {
    const ingest = fakeIngest((attempt, deviceId) =>
      attempt === 0
        ? deviceId === 'D1'
          ? 503
          : deviceId === 'D2'
            ? 429
            : deviceId === 'D3'
              ? 'network'
              : 200
        : 200,
    );
    const sleeps: number[] = [];
    const poster = createTapPoster({
      baseUrl: 'http://x',
      secrets,
      concurrency: 2,
      fetch: ingest.fetch,
      sleep: (ms) => (sleeps.push(ms), Promise.resolve()),
    });
    for (const d of ['D1', 'D2', 'D3', 'D4']) {
      await poster.post(batch(d, [1, 2, 3]));
      await poster.post(batch(d, [4, 5]));
    }
    await poster.drain();
    expect(ingest.seen.every((s) => s.signatureOk)).toBe(true);
    expect(poster.stats).toMatchObject({ batches: 8, accepted: 20, retries: 6, failed: {} });
    // Retries resend exactly the same taps: D1's first batch went twice with seqs 1-3.
    expect(ingest.seen.filter((s) => s.deviceId === 'D1' && s.seqs.join() === '1,2,3')).toHaveLength(2);
    expect(ingest.stats().maxInFlight).toBeLessThanOrEqual(2);
    expect(ingest.stats().maxPerDevice).toBe(1);
    // A device's batches go in order.
    expect(ingest.seen.filter((s) => s.deviceId === 'D4').map((s) => s.seqs[0])).toEqual([1, 4]);
    expect(sleeps.length).toBe(6);
  });

  it('gives up after maxAttempts and reports the failure', async () => {
    const ingest = fakeIngest(() => 503);
    const poster = createTapPoster({
      baseUrl: 'http://x',
      secrets,
      concurrency: 1,
      maxAttempts: 3,
      fetch: ingest.fetch,
      sleep: () => Promise.resolve(),
    });
    await poster.post(batch('D1', [1]));
    await expect(poster.drain()).rejects.toThrow(/failed after 3 attempts/);
    expect(ingest.seen).toHaveLength(3);
  });

  it('records 401s (unknown device) as failures without retrying', async () => {
    const ingest = fakeIngest(() => 401);
    const poster = createTapPoster({
      baseUrl: 'http://x',
      secrets,
      concurrency: 1,
      fetch: ingest.fetch,
      sleep: () => Promise.resolve(),
    });
    await poster.post(batch('D1', [1]));
    await poster.post(batch('D9', [1]));
    await poster.drain();
    expect(poster.stats.failed).toEqual({ '401': 1, no_secret: 1 });
    expect(ingest.seen).toHaveLength(1);
  });

  it('paces uploads to --rate taps per second', async () => {
    const ingest = fakeIngest(() => 200);
    const sleeps: number[] = [];
    const poster = createTapPoster({
      baseUrl: 'http://x',
      secrets,
      concurrency: 4,
      rate: 100,
      nowMs: () => 1_000_000,
      fetch: ingest.fetch,
      sleep: (ms) => (sleeps.push(ms), Promise.resolve()),
    });
    // 3 batches of 50 taps at 100 taps/s: they start at 0, 0.5 s and 1 s (the injected sleep does not advance the clock).
    for (const d of ['D1', 'D2', 'D3'])
      await poster.post(
        batch(
          d,
          Array.from({ length: 50 }, (_, i) => i + 1),
        ),
      );
    await poster.drain();
    expect(sleeps).toEqual([500, 1000]);
    expect(poster.stats.accepted).toBe(150);
  });
});

describe('ratings by tap id (postRatingsByTapId)', () => {
  it('looks the tap ids up once per chunk, posts each rating on its own tap, and counts outcomes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-ratings-'));
    const file = join(dir, 'ratings.ndjson');
    const record = (personRef: string, deviceId: string, seq: number, ratedAt: string) => ({
      personRef,
      deviceId,
      seq,
      tappedAt: '2022-05-09T07:41:02+08:00',
      vehicleId: 'V0001',
      routeId: 'R1',
      mediaType: 'transit_card',
      score: 5,
      ratedAt,
      forwardedAt: ratedAt,
    });
    const records = [
      record('P1', 'D1', 1, '2022-05-09T08:00:00+08:00'), // accepted
      record('P1', 'D1', 2, '2022-05-09T08:01:00+08:00'), // same ride: 409
      record('P2', 'D2', 7, '2022-05-20T08:00:00+08:00'), // after the window: 422
      record('P3', 'D2', 8, '2022-05-09T08:00:00+08:00'), // tap not stored: unresolved
      record('P9', 'D1', 3, '2022-05-09T08:00:00+08:00'), // person not registered: unresolved
    ];
    await writeFile(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const tapIds = new Map([
      [tapKey('D1', 1), 101],
      [tapKey('D1', 2), 102],
      [tapKey('D1', 3), 103],
      [tapKey('D2', 7), 207],
    ]);
    const lookups: number[] = [];
    const posted: { path: string; body: { personId: string; ratedAt: string } }[] = [];
    const fetch: FetchLike = (url, init) => {
      const path = new URL(url).pathname;
      const body = JSON.parse(init.body!) as { personId: string; ratedAt: string };
      posted.push({ path, body });
      const status = path === '/v1/rides/102/rating' ? 409 : path === '/v1/rides/207/rating' ? 422 : 201;
      return Promise.resolve({ status, headers: { get: () => null }, text: () => Promise.resolve('{}') });
    };
    const stats = await postRatingsByTapId(
      { baseUrl: 'http://rider', clientToken: 't', concurrency: 4, fetch },
      file,
      new Map([
        ['P1', 'person-1'],
        ['P2', 'person-2'],
        ['P3', 'person-3'],
      ]),
      (keys) => {
        lookups.push(keys.length);
        return Promise.resolve(
          new Map(
            keys.flatMap((k) => {
              const id = tapIds.get(tapKey(k.deviceId, k.seq));
              return id === undefined ? [] : [[tapKey(k.deviceId, k.seq), id] as const];
            }),
          ),
        );
      },
      undefined,
      3,
    );
    expect(lookups).toEqual([3, 2]);
    expect(stats).toEqual({ ratings: 5, accepted: 1, duplicates: 1, refused: { '422': 1 }, unresolved: 2 });
    // P1's two ratings went one after the other, in file order, each naming its own tap.
    expect(posted.filter((p) => p.body.personId === 'person-1').map((p) => p.path)).toEqual([
      '/v1/rides/101/rating',
      '/v1/rides/102/rating',
    ]);
    expect(posted.find((p) => p.path === '/v1/rides/207/rating')?.body).toEqual({
      personId: 'person-2',
      score: 5,
      ratedAt: '2022-05-20T08:00:00+08:00',
    });
  });
});
