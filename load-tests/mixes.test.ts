import { describe, expect, it } from 'vitest';
import {
  RIDER_APP_MIX,
  STAFF_MIX,
  applyEnv,
  chooseRideToRate,
  pickWeighted,
  ratingRequest,
  readPersonIds,
  readToken,
  rideListRequest,
  shanghaiDate,
  staffRequest,
} from './mixes.js';
import { envFor, parseDuration } from './node-driver/mix-runners';

const NOW = Date.parse('2022-09-30T12:00:00Z');

describe('mixes shared by k6 and the Node driver', () => {
  it('applies environment overrides, keeping numbers numeric, and refuses a non-number', () => {
    const mix = applyEnv(RIDER_APP_MIX, { RATE: '80', DURATION: '2m', LIST_TO: '2022-09-30' });
    expect(mix.rate).toBe(80);
    expect(mix.duration).toBe('2m');
    expect(mix.listTo).toBe('2022-09-30');
    expect(mix.maxVUs).toBe(RIDER_APP_MIX.maxVUs);
    expect(() => applyEnv(RIDER_APP_MIX, { RATE: 'fast' })).toThrow(/RATE must be a number/);
  });

  it('lets prefixed variables win for the driver (RIDER_RATE over RATE)', () => {
    const env = envFor('RIDER_', { RATE: '10', RIDER_RATE: '30', STAFF_RATE: '1' });
    expect(env.RATE).toBe('30');
    expect(envFor('STAFF_', { RATE: '10', STAFF_RATE: '1' }).RATE).toBe('1');
  });

  it('draws kinds in proportion to their weights', () => {
    const counts: Record<string, number> = {};
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      const k = pickWeighted(STAFF_MIX.weights, (i + 0.5) / n);
      counts[k] = (counts[k] ?? 0) + 1;
    }
    const total = Object.values(STAFF_MIX.weights).reduce((a, b) => a + b, 0);
    for (const [k, w] of Object.entries(STAFF_MIX.weights)) expect(counts[k]! / n).toBeCloseTo(w / total, 2);
    expect(pickWeighted({ a: 1, b: 0 }, 0.999)).toBe('a');
  });

  it('asks for the ride list over Shanghai dates', () => {
    expect(shanghaiDate(Date.parse('2022-09-30T16:30:00Z'))).toBe('2022-10-01');
    const spec = rideListRequest('p/1', { listDays: 31, listTo: '' }, NOW);
    expect(spec.path).toBe('/v1/persons/p%2F1/rides?from=2022-08-30&to=2022-09-30');
    expect(rideListRequest('p', { listDays: 7, listTo: '2022-06-10' }, NOW).path).toContain('from=2022-06-03&to=2022-06-10');
  });

  it('rates only an unrated ride whose window contains ratedAt, shortly after the ride', () => {
    const mix = { ratingDelayMinutes: 90 };
    const ride = (tappedAt: string, rated = false, days = 7) => ({
      tapIds: ['t-' + tappedAt],
      tappedAt,
      rated,
      rateBy: new Date(Date.parse(tappedAt) + days * 86_400_000).toISOString(),
    });
    // Historical ride: ratedAt = ride + 90 min, inside its window.
    const old = chooseRideToRate([ride('2022-09-01T08:00:00+08:00', true), ride('2022-09-02T08:00:00+08:00')], mix, NOW);
    expect(old?.ride.tapIds[0]).toBe('t-2022-09-02T08:00:00+08:00');
    expect(old?.ratedAt).toBe('2022-09-02T01:30:00.000Z');
    // A ride 10 minutes ago: ratedAt is capped at now, never in the future.
    const recent = chooseRideToRate([ride(new Date(NOW - 600_000).toISOString())], mix, NOW);
    expect(recent?.ratedAt).toBe(new Date(NOW).toISOString());
    // A window shorter than the delay: nothing to rate.
    expect(chooseRideToRate([ride('2022-09-02T08:00:00+08:00', false, 0.01)], mix, NOW)).toBeUndefined();
    const req = ratingRequest('p1', old!, 0);
    expect(req).toMatchObject({ method: 'POST', path: '/v1/rides/t-2022-09-02T08%3A00%3A00%2B08%3A00/rating', expected: [201, 409] });
    expect(req.body).toEqual({ personId: 'p1', score: 5, ratedAt: '2022-09-02T01:30:00.000Z' });
  });

  it('builds the staff requests of each kind', () => {
    const creds = { username: 'u', password: 'p' };
    expect(staffRequest('signIn', STAFF_MIX, 0, creds)).toMatchObject({ method: 'POST', path: STAFF_MIX.signInPath, body: creds });
    expect(staffRequest('rankings', STAFF_MIX, 0, creds).path).toBe(`${STAFF_MIX.rankingsPath}?period=2022-Q3&limit=2000`);
    expect(staffRequest('rankingsFirstReached', STAFF_MIX, 0.99, creds).path).toContain('period=2022&tiePolicy=first-reached');
    expect(staffRequest('exportXlsx', STAFF_MIX, 0.5, creds).path).toBe(`${STAFF_MIX.exportPath}?period=2022-Q4&format=xlsx`);
  });

  it('reads the token and person files in their documented shapes', () => {
    expect(readToken('abc\n')).toBe('abc');
    expect(readToken('{"clientId":"c","token":"t0k"}')).toBe('t0k');
    expect(() => readToken('{"clientId":"c"}')).toThrow(/token/);
    expect(readPersonIds('a\nb\r\n\n')).toEqual(['a', 'b']);
    expect(readPersonIds('[{"personId":"x"},"y"]')).toEqual(['x', 'y']);
    expect(() => readPersonIds('  \n')).toThrow(/no person ids/);
  });

  it('reads k6 durations', () => {
    expect(parseDuration('60s')).toBe(60_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(() => parseDuration('soon')).toThrow();
  });
});
