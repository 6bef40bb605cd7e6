import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { insertTap, makeIdNumber, outboxEntries, testClock, testKeyring } from '@ridetally/registry/testing';
import { startRiderApp, type RiderHarness } from './testing/rider-test-kit';

let tdb: TestDatabase;
let api: RiderHarness;
const keyring = testKeyring();
const clock = testClock('2022-05-25T12:00:00+08:00');
const ID_P = makeIdNumber('141102', '19800101', 101);
const ID_Q = makeIdNumber('141102', '19811111', 202);
let personP = '';
let personQ = '';

const at = (local: string) => new Date(`${local}+08:00`);

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await startRiderApp(tdb.db, keyring, clock.now);
  personP = (await api.call('POST', '/v1/persons', { idNumber: ID_P, name: '张三丰', phone: '13800000001' })).body.personId!;
  personQ = (await api.call('POST', '/v1/persons', { idNumber: ID_Q, name: '欧阳丽娜' })).body.personId!;
});
afterAll(async () => {
  await api.close();
  await tdb.drop();
});

describe('client credentials', () => {
  it('refuses requests without a token, with an unknown token, and after revocation', async () => {
    expect((await api.call('POST', '/v1/persons', { idNumber: ID_P, name: 'x' }, null)).status).toBe(401);
    const bad = await api.call('POST', '/v1/persons', { idNumber: ID_P, name: 'x' }, 'rta_nope');
    expect(bad).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    const { token } = await import('@ridetally/registry').then((r) => r.createApiClient({ db: tdb.db, keyring }, 'temp'));
    expect((await api.call('GET', `/v1/persons/${personP}/rides?from=2022-05-01&to=2022-05-01`, undefined, token)).status).toBe(200);
    await sql`UPDATE api_clients SET revoked_at = now() WHERE name = 'temp'`.execute(tdb.db);
    expect((await api.call('GET', `/v1/persons/${personP}/rides?from=2022-05-01&to=2022-05-01`, undefined, token)).status).toBe(401);
  });
});

describe('POST /v1/persons', () => {
  it('is idempotent on the ID number: 201 then 200 with the same person id, also under concurrency', async () => {
    const id = makeIdNumber('141102', '19990101', 303);
    const results = await Promise.all([1, 2, 3, 4].map(() => api.call('POST', '/v1/persons', { idNumber: id.toLowerCase(), name: '李四' })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.body.personId)).size).toBe(1);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM persons WHERE id_hash = ${keyring.hashIdNumber(id)}`.execute(tdb.db);
    expect(rows[0]!.n).toBe(1);
  });

  it('replaces the name and phone on a re-registration that changes them', async () => {
    const again = await api.call('POST', '/v1/persons', { idNumber: ID_P, name: '张三', phone: '13800000009' });
    expect(again).toEqual({ status: 200, body: { personId: personP } });
    const { rows } = await sql<{ name_masked: string; name_ciphertext: Buffer; phone_ciphertext: Buffer }>`
      SELECT name_masked, name_ciphertext, phone_ciphertext FROM persons WHERE person_id = ${personP}`.execute(tdb.db);
    expect(rows[0]!.name_masked).toBe('张*');
    expect(keyring.decryptString('pii', rows[0]!.phone_ciphertext)).toBe('13800000009');
    await api.call('POST', '/v1/persons', { idNumber: ID_P, name: '张三丰' });
  });

  it('refuses an invalid ID number with a 400 that does not echo it', async () => {
    const bad = ID_P.slice(0, 17) + (ID_P[17] === '0' ? '1' : '0');
    const r = await api.call('POST', '/v1/persons', { idNumber: bad, name: '张三' });
    expect(r.status).toBe(400);
    expect(r.body.error!.message).toBe('ID number check character does not match (GB 11643)');
    expect(JSON.stringify(r.body)).not.toContain(bad);
    expect((await api.call('POST', '/v1/persons', { idNumber: ID_P })).status).toBe(400);
    expect((await api.call('POST', '/v1/persons', { idNumber: ID_P, name: '张三', phone: 'call me' })).status).toBe(400);
  });
});

describe('media bindings', () => {
  it('binds, and refuses an overlapping binding of the same medium with a clear 409', async () => {
    const first = await api.call('POST', `/v1/persons/${personP}/media`, { type: 'transit_card', id: 'C-OVL', kind: 'normal', validFrom: '2022-01-01' });
    expect(first.status).toBe(201);
    const other = await api.call('POST', `/v1/persons/${personQ}/media`, { type: 'transit_card', id: 'C-OVL', validFrom: '2022-03-01', validTo: '2022-03-31' });
    expect(other.status).toBe(409);
    expect(other.body.error!.message).toBe(
      'this transit_card is already bound over part of that interval (bound to another person from 2022-01-01 00:00 to open-ended, Asia/Shanghai); a medium belongs to one person at a time',
    );
    const same = await api.call('POST', `/v1/persons/${personP}/media`, { type: 'transit_card', id: 'C-OVL', validFrom: '2022-02-01' });
    expect(same.status).toBe(409);
    expect(same.body.error!.message).toContain('bound to this person');
    // Before the existing interval is fine.
    const before = await api.call('POST', `/v1/persons/${personQ}/media`, { type: 'transit_card', id: 'C-OVL', validFrom: '2021-06-01', validTo: '2021-12-31' });
    expect(before.status).toBe(201);
  });

  it('refuses bad kinds, unknown persons, malformed ids and someone else’s ID card', async () => {
    expect((await api.call('POST', `/v1/persons/${personP}/media`, { type: 'transit_card', id: 'C-K', kind: 'gold' })).status).toBe(400);
    expect((await api.call('POST', `/v1/persons/${personP}/media`, { type: 'qr', id: 'Q-K', kind: 'normal' })).status).toBe(400);
    expect((await api.call('POST', `/v1/persons/${personP}/media`, { type: 'bus_pass', id: 'X' })).status).toBe(400);
    expect((await api.call('POST', `/v1/persons/00000000-0000-4000-8000-000000000000/media`, { type: 'qr', id: 'Q-K' })).status).toBe(404);
    expect((await api.call('POST', `/v1/persons/not-a-uuid/media`, { type: 'qr', id: 'Q-K' })).status).toBe(400);
    const foreign = await api.call('POST', `/v1/persons/${personP}/media`, { type: 'id_card', id: ID_Q });
    expect(foreign).toMatchObject({ status: 422, body: { error: { message: 'an ID card can only be bound to its holder' } } });
    expect((await api.call('POST', `/v1/persons/${personP}/media`, { type: 'transit_card', id: 'C-T', validFrom: '2022-05-02', validTo: '2022-05-01' })).status).toBe(400);
  });

  it('binds an ID card by its holder’s keyed hash ("self" or the number), never the number', async () => {
    const r = await api.call('POST', `/v1/persons/${personQ}/media`, { type: 'id_card', id: 'self', validFrom: '2022-04-01' });
    expect(r.status).toBe(201);
    const { rows } = await sql<{ media_key: string }>`SELECT media_key FROM media_bindings WHERE person_id = ${personQ} AND media_type = 'id_card'`.execute(tdb.db);
    expect(rows).toEqual([{ media_key: keyring.hashIdNumber(ID_Q) }]);
    expect((await api.call('DELETE', `/v1/persons/${personQ}/media/id_card/${ID_Q}`)).status).toBe(400);
    expect((await api.call('DELETE', `/v1/persons/${personQ}/media/id_card/self?validTo=2022-12-31`)).status).toBe(200);
  });

  it('keeps a replaced card’s old taps with the old binding (card lost mid-quarter)', async () => {
    const bindOld = await api.call('POST', `/v1/persons/${personP}/media`, { type: 'transit_card', id: 'C-OLD', kind: 'normal', validFrom: '2022-04-01' });
    expect(bindOld.status).toBe(201);
    const t1 = await insertTap(tdb.db, { tappedAt: at('2022-04-10T08:00:00'), mediaKey: 'C-OLD', vehicleId: 'V1', routeId: 'R1' });
    const tLost = await insertTap(tdb.db, { tappedAt: at('2022-05-20T08:00:00'), mediaKey: 'C-OLD', vehicleId: 'V2', routeId: 'R2' });
    // Lost: unbound through 2022-05-14 (inclusive); the new card from 2022-05-15.
    const unbind = await api.call('DELETE', `/v1/persons/${personP}/media/transit_card/C-OLD?validTo=2022-05-14`);
    expect(unbind).toMatchObject({ status: 200, body: { validTo: '2022-05-14T16:00:00.000Z' } });
    expect((await api.call('POST', `/v1/persons/${personP}/media`, { type: 'transit_card', id: 'C-NEW', kind: 'normal', validFrom: '2022-05-15' })).status).toBe(201);
    const t2 = await insertTap(tdb.db, { tappedAt: at('2022-05-21T09:00:00'), mediaKey: 'C-NEW', vehicleId: 'V3', routeId: 'R1' });
    // The old card, found by someone else and bound to them later.
    expect((await api.call('POST', `/v1/persons/${personQ}/media`, { type: 'transit_card', id: 'C-OLD', validFrom: '2022-06-01' })).status).toBe(201);
    const t3 = await insertTap(tdb.db, { tappedAt: at('2022-06-05T10:00:00'), mediaKey: 'C-OLD', vehicleId: 'V1', routeId: 'R1' });

    const p = await api.call('GET', `/v1/persons/${personP}/rides?from=2022-04-01&to=2022-06-30`);
    expect(p.body.rides!.map((r) => r.tapIds)).toEqual([[t1], [t2]]);
    const q = await api.call('GET', `/v1/persons/${personQ}/rides?from=2022-04-01&to=2022-06-30`);
    expect(q.body.rides!.map((r) => r.tapIds)).toEqual([[t3]]);
    expect([...p.body.rides!, ...q.body.rides!].flatMap((r) => r.tapIds)).not.toContain(tLost);
    // Unbinding again at a time it is not bound is a 404; the outbox announced every change.
    expect((await api.call('DELETE', `/v1/persons/${personP}/media/transit_card/C-OLD?validTo=2022-05-30`)).status).toBe(404);
    const persons = (await outboxEntries(tdb.db)).filter((e) => e.topic === 'person').map((e) => e.payload);
    expect(persons).toContainEqual({ personId: personP, from: '2022-05-14T16:00:00.000Z' });
  });
});

describe('GET /v1/persons/{id}/rides', () => {
  it('groups taps per R4 from a reset point before `from`, in time order', async () => {
    await api.call('POST', `/v1/persons/${personP}/media`, { type: 'qr', id: 'QR-P', validFrom: '2022-07-01' });
    const tap = (local: string, vehicleId: string) => insertTap(tdb.db, { tappedAt: at(local), mediaType: 'qr', mediaKey: 'QR-P', vehicleId, routeId: `R-${vehicleId}` });
    // A ride that starts the evening before and runs past midnight belongs to that evening.
    const e1 = await tap('2022-07-09T23:50:00', 'V1');
    const e2 = await tap('2022-07-10T00:05:00', 'V1');
    const e3 = await tap('2022-07-10T00:15:00', 'V1');
    const m1 = await tap('2022-07-10T00:25:00', 'V1'); // 35 min after e1: a new ride
    const a1 = await tap('2022-07-10T08:00:00', 'V1');
    const a3 = await tap('2022-07-10T08:25:00', 'V1');
    const a2 = await tap('2022-07-10T08:10:00', 'V1');
    const b1 = await tap('2022-07-10T08:35:00', 'V1'); // 35 min after a1
    const c1 = await tap('2022-07-10T08:40:00', 'V2'); // transfer
    const d1 = await tap('2022-07-10T23:55:00', 'V2'); // runs into the 11th
    const d2 = await tap('2022-07-11T00:10:00', 'V2');

    const day = await api.call('GET', `/v1/persons/${personP}/rides?from=2022-07-10&to=2022-07-10`);
    expect(day.status).toBe(200);
    expect(day.body.rides!.map((r) => r.tapIds)).toEqual([[m1], [a1, a2, a3], [b1], [c1], [d1, d2]]);
    expect(day.body.rides![1]).toEqual({
      tapIds: [a1, a2, a3],
      tappedAt: '2022-07-10T00:00:00.000Z',
      routeId: 'R-V1',
      vehicleId: 'V1',
      rated: false,
      rateBy: '2022-07-17T00:00:00.000Z',
    });
    const before = await api.call('GET', `/v1/persons/${personP}/rides?from=2022-07-09&to=2022-07-09`);
    expect(before.body.rides!.map((r) => r.tapIds)).toEqual([[e1, e2, e3]]);
  });

  it('refuses bad ranges and unknown persons', async () => {
    expect((await api.call('GET', `/v1/persons/${personP}/rides?from=2022-07-10`)).status).toBe(400);
    expect((await api.call('GET', `/v1/persons/${personP}/rides?from=2022-07-10&to=2022-07-09`)).status).toBe(400);
    expect((await api.call('GET', `/v1/persons/${personP}/rides?from=2022-01-01&to=2023-12-31`)).status).toBe(400);
    expect((await api.call('GET', `/v1/persons/00000000-0000-4000-8000-000000000000/rides?from=2022-07-10&to=2022-07-10`)).status).toBe(404);
  });
});

describe('POST /v1/rides/{tapId}/rating', () => {
  let rideTaps: number[] = [];
  const rate = (tapId: number, body: Record<string, unknown>) => api.call('POST', `/v1/rides/${tapId}/rating`, { personId: personP, score: 4, ...body });

  beforeAll(async () => {
    await api.call('POST', `/v1/persons/${personP}/media`, { type: 'ecard', id: 'EC-P', kind: 'alipay', validFrom: '2022-08-01' });
    rideTaps = [
      await insertTap(tdb.db, { tappedAt: at('2022-08-01T07:00:00'), mediaType: 'ecard', mediaKey: 'EC-P', vehicleId: 'V7' }),
      await insertTap(tdb.db, { tappedAt: at('2022-08-01T07:00:05'), mediaType: 'ecard', mediaKey: 'EC-P', vehicleId: 'V7' }),
    ];
    clock.set(at('2022-08-03T12:00:00'));
  });

  it('refuses scores out of range, unknown taps, and taps that are not the person’s', async () => {
    for (const score of [0, 6, 2.5, '5']) expect((await rate(rideTaps[0]!, { score })).status).toBe(400);
    expect((await rate(999_999_999, {})).body.error).toMatchObject({ code: 'not_found', message: 'no tap 999999999' });
    // An unknown person is reported first, also when the tap is unknown too.
    const nobody = '00000000-0000-4000-8000-000000000000';
    for (const tapId of [rideTaps[0]!, 999_999_999]) {
      const r = await api.call('POST', `/v1/rides/${tapId}/rating`, { personId: nobody, score: 4 });
      expect(r).toMatchObject({ status: 404, body: { error: { code: 'not_found', message: 'no such person' } } });
    }
    const stranger = await insertTap(tdb.db, { tappedAt: at('2022-08-01T07:00:10'), mediaType: 'ecard', mediaKey: 'EC-SOMEONE-ELSE', vehicleId: 'V7' });
    const r = await rate(stranger, {});
    expect(r.status).toBe(422);
    expect(r.body.error!.message).toContain("is not one of this person's rides");
    const q = await api.call('POST', `/v1/rides/${rideTaps[0]!}/rating`, { personId: personQ, score: 5 });
    expect(q.status).toBe(422);
  });

  it('refuses ratedAt in the future (beyond 5 min skew), before the ride, or after the 7-day window', async () => {
    expect((await rate(rideTaps[0]!, { ratedAt: '2022-08-03T12:06:00+08:00' })).body.error!.message).toBe('ratedAt is in the future');
    expect((await rate(rideTaps[0]!, { ratedAt: '2022-08-01T06:59:59+08:00' })).status).toBe(422);
    clock.set(at('2022-08-09T12:00:00'));
    const late = await rate(rideTaps[0]!, { ratedAt: '2022-08-08T07:00:01+08:00' });
    expect(late.status).toBe(422);
    expect(late.body.error!.message).toContain('rating window of this ride closed at 2022-08-07T23:00:00.000Z');
  });

  it('accepts a rating at the window’s last moment, flags a late forward, and refuses a second rating (409)', async () => {
    const outboxBefore = (await outboxEntries(tdb.db)).length;
    // Rated in the app at ride + 7 days exactly, forwarded two days later.
    const ok = await rate(rideTaps[1]!, { ratedAt: '2022-08-08T07:00:00+08:00', comment: '准点' });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ rideFirstTapId: rideTaps[0], rideTappedAt: '2022-07-31T23:00:00.000Z', lateForward: true });
    const { rows } = await sql<{ late_forward: boolean; received_at: Date; rated_at: Date; tap_id: number }>`
      SELECT late_forward, received_at, rated_at, tap_id FROM ratings WHERE rating_id = ${ok.body.ratingId!}`.execute(tdb.db);
    expect(rows[0]).toEqual({ late_forward: true, received_at: at('2022-08-09T12:00:00'), rated_at: at('2022-08-08T07:00:00'), tap_id: rideTaps[1] });
    const anomalies = await sql<{ kind: string; key: string; person_id: string; period: string; details: unknown }>`
      SELECT kind, key, person_id, period, details FROM anomalies`.execute(tdb.db);
    expect(anomalies.rows).toEqual([
      {
        kind: 'late_rating_forward',
        key: `rating:${ok.body.ratingId!}`,
        person_id: personP,
        period: '2022-Q3',
        details: { ratingId: ok.body.ratingId, ratedAt: '2022-08-07T23:00:00.000Z', receivedAt: '2022-08-09T04:00:00.000Z' },
      },
    ]);
    expect((await outboxEntries(tdb.db)).slice(outboxBefore)).toEqual([{ topic: 'rating', payload: { ratingId: ok.body.ratingId } }]);

    const second = await rate(rideTaps[0]!, { ratedAt: '2022-08-02T07:00:00+08:00', score: 1 });
    expect(second).toMatchObject({ status: 409, body: { error: { code: 'conflict', message: 'this ride is already rated; the first rating stands' } } });
    expect(await outboxEntries(tdb.db)).toHaveLength(outboxBefore + 1);
    const list = await api.call('GET', `/v1/persons/${personP}/rides?from=2022-08-01&to=2022-08-01`);
    expect(list.body.rides).toEqual([expect.objectContaining({ tapIds: rideTaps, rated: true })]);
  });

  it('lets exactly one of two concurrent ratings of one ride win', async () => {
    const t = await insertTap(tdb.db, { tappedAt: at('2022-08-09T07:00:00'), mediaType: 'ecard', mediaKey: 'EC-P', vehicleId: 'V8' });
    const u = await insertTap(tdb.db, { tappedAt: at('2022-08-09T07:01:00'), mediaType: 'ecard', mediaKey: 'EC-P', vehicleId: 'V8' });
    const results = await Promise.all([rate(t, { score: 5 }), rate(u, { score: 1 }), rate(t, { score: 3 }), rate(u, { score: 2 })]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ratings WHERE ride_first_tap_id = ${t}`.execute(tdb.db);
    expect(rows[0]!.n).toBe(1);
    const winner = results.find((r) => r.status === 201)!;
    expect(winner.body.lateForward).toBe(false);
  });
});

describe('a ride rated under an earlier grouping', () => {
  it('refuses a second rating after a late tap moved the ride’s first tap, and lists the ride as rated', async () => {
    const rate = (tapId: number) => api.call('POST', `/v1/rides/${tapId}/rating`, { personId: personP, score: 4 });
    clock.set(at('2022-08-20T12:00:00'));
    const later = await insertTap(tdb.db, { tappedAt: at('2022-08-20T09:00:00'), mediaType: 'ecard', mediaKey: 'EC-P', vehicleId: 'V9' });
    const first = await rate(later);
    expect(first).toMatchObject({ status: 201, body: { rideFirstTapId: later, lateForward: false } });
    // Uploaded late: a tap ten minutes earlier on the same bus now starts the ride.
    const earlier = await insertTap(tdb.db, { tappedAt: at('2022-08-20T08:50:00'), mediaType: 'ecard', mediaKey: 'EC-P', vehicleId: 'V9' });
    const outboxBefore = (await outboxEntries(tdb.db)).length;
    const again = await rate(earlier);
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
    expect(await outboxEntries(tdb.db)).toHaveLength(outboxBefore);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ratings WHERE tap_id IN (${earlier}, ${later})`.execute(tdb.db);
    expect(rows[0]!.n).toBe(1);
    const list = await api.call('GET', `/v1/persons/${personP}/rides?from=2022-08-20&to=2022-08-20`);
    expect(list.body.rides).toEqual([expect.objectContaining({ tapIds: [earlier, later], rated: true })]);
    const anomalies = await sql<{ n: number }>`SELECT count(*)::int AS n FROM anomalies WHERE key = ${`rating:${first.body.ratingId!}`}`.execute(tdb.db);
    expect(anomalies.rows[0]!.n).toBe(0);
  });
});

describe('GET /v1/openapi.json', () => {
  it('describes every app endpoint as OpenAPI 3.1, without a token', async () => {
    const doc = await api.call('GET', '/v1/openapi.json', undefined, null);
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.fromEntries(Object.entries(doc.body.paths!).map(([p, ops]) => [p, Object.keys(ops).sort()]))).toEqual({
      '/v1/persons': ['post'],
      '/v1/persons/{personId}/media': ['post'],
      '/v1/persons/{personId}/media/{type}/{id}': ['delete'],
      '/v1/persons/{personId}/rides': ['get'],
      '/v1/rides/{tapId}/rating': ['post'],
      '/v1/openapi.json': ['get'],
    });
  });
});
