/** The oracle on hand-made scenarios; every expected number is worked out by hand in the comment. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { groupRides, periodLabelsOf } from '@ridetally/domain';
import { quarterLabelOf, yearLabelOf } from './calendar';
import type { SimCity, SimPerson } from './city.model';
import { createOracle, rankShared, type GroundTruth, type OracleTap } from './ground-truth';

const at = (iso: string): number => Date.parse(iso);
const DAY = 86_400_000;

function person(
  ref: string,
  media: [string, string | null, string | null][],
  employments: SimPerson['employments'],
): SimPerson {
  return {
    index: 0,
    ref,
    registered: true,
    idNumber: '',
    name: '',
    phone: '',
    employments,
    media: media.map(([id, validFrom, validTo]) => ({
      type: 'transit_card',
      kind: 'normal',
      id,
      validFrom,
      validTo,
    })),
    pattern: 'occasional',
    homeRouteId: 'R1',
    workRouteId: 'R1',
    twoCards: false,
    lostCard: null,
    ratingPropensity: 1,
  };
}

const city: Pick<SimCity, 'persons' | 'employers' | 'routes'> = {
  routes: [
    {
      routeId: 'R1',
      shortName: '1',
      longName: '',
      kind: 'city',
      networkId: 'city',
      isCity: true,
      stopIds: [],
    },
    {
      routeId: 'K1',
      shortName: 'K1',
      longName: '',
      kind: 'airport',
      networkId: 'city',
      isCity: true,
      stopIds: [],
    },
    {
      routeId: 'X1',
      shortName: 'X1',
      longName: '',
      kind: 'intercity',
      networkId: 'intercity',
      isCity: false,
      stopIds: [],
    },
  ],
  employers: [
    { code: 'AG', name: '', type: 'agency', cityArea: true },
    { code: 'SOE', name: '', type: 'soe', cityArea: true },
    { code: 'OTHER', name: '', type: 'other', cityArea: true },
    { code: 'FAR', name: '', type: 'agency', cityArea: false },
  ],
  persons: [
    person('A', [['cA', '2022-01-01', null]], [{ employerCode: 'AG', from: '2020-01-01', to: null }]),
    person(
      'B',
      [['cB', '2022-01-01', null]],
      [{ employerCode: 'SOE', from: '2020-01-01', to: '2022-05-15' }],
    ),
    person('C', [['cC', '2022-01-01', null]], [{ employerCode: 'OTHER', from: '2020-01-01', to: null }]),
    person(
      'D',
      [
        ['cD1', '2022-01-01', null],
        ['cD2', '2022-01-01', null],
      ],
      [{ employerCode: 'AG', from: '2020-01-01', to: null }],
    ),
    person('F', [['cF', '2022-01-01', null]], [{ employerCode: 'FAR', from: '2020-01-01', to: null }]),
    // Lost the first card on 2022-05-10: the old one is bound to 05-09 inclusive.
    person(
      'L',
      [
        ['cOld', '2022-01-01', '2022-05-09'],
        ['cNew', '2022-05-10', null],
      ],
      [{ employerCode: 'AG', from: '2020-01-01', to: null }],
    ),
    // Registers (binds the card) only from 2022-05-10.
    person('R', [['cR', '2022-05-10', null]], [{ employerCode: 'AG', from: '2020-01-01', to: null }]),
    // Changes employer: eligible agency to 05-19, "other" from 05-20.
    person(
      'M',
      [['cM', '2022-01-01', null]],
      [
        { employerCode: 'AG', from: '2020-01-01', to: '2022-05-19' },
        { employerCode: 'OTHER', from: '2022-05-20', to: null },
      ],
    ),
  ],
};

function tap(
  card: string,
  iso: string,
  vehicleId = 'V1',
  routeId = 'R1',
  ratedAt?: number | 'same',
): OracleTap {
  const t = at(iso);
  return {
    tappedAt: t,
    vehicleId,
    routeId,
    media: { type: 'transit_card', id: card },
    ratings: ratedAt === undefined ? null : [{ ratedAt: ratedAt === 'same' ? t + 3600_000 : ratedAt }],
  };
}

function run(taps: OracleTap[]): GroundTruth {
  const oracle = createOracle(city);
  for (const t of [...taps].sort((a, b) => a.tappedAt - b.tappedAt)) oracle.add(t);
  return oracle.finish();
}

const count = (truth: GroundTruth, period: string, ref: string): number =>
  truth.counts.get(period)?.get(ref)?.rides ?? 0;

describe('ground truth (R1-R6, R14) on hand-made scenarios', () => {
  it('a double tap is one ride and one boarding', () => {
    // 07:41:02 and 07:41:07 on V1 with the same card: one ride (R4), one boarding (R14, 5 s < 120 s).
    const truth = run([
      tap('cA', '2022-05-09T07:41:02+08:00', 'V1', 'R1', 'same'),
      tap('cA', '2022-05-09T07:41:07+08:00'),
    ]);
    expect(count(truth, '2022-Q2', 'A')).toBe(1);
    expect(count(truth, '2022', 'A')).toBe(1);
    expect(truth.totals).toMatchObject({ taps: 2, boardings: 1 });
    expect(truth.volume.get('2022-05-09|R1')).toEqual({ boardings: 1, taps: 2 });
  });

  it('a transfer is a new ride, and each ride needs its own rating', () => {
    // V1 at 08:00 (rated), V2 at 08:15 (rated), V3 at 08:40 (not rated): 2 counted rides, 3 boardings.
    const truth = run([
      tap('cA', '2022-05-09T08:00:00+08:00', 'V1', 'R1', 'same'),
      tap('cA', '2022-05-09T08:15:00+08:00', 'V2', 'R1', 'same'),
      tap('cA', '2022-05-09T08:40:00+08:00', 'V3', 'R1'),
    ]);
    expect(count(truth, '2022-Q2', 'A')).toBe(2);
    expect(truth.totals.rides).toEqual({ counted: 2, not_eligible: 0, not_city_route: 0, not_rated: 1 });
    expect(truth.totals.boardings).toBe(3);
  });

  it('two cards of one person on the same bus are one ride; a rating of either tap counts', () => {
    // cD1 at 09:00:00, cD2 at 09:00:04 rated: one ride for D (R4 per person), two boardings (two media).
    const truth = run([
      tap('cD1', '2022-05-09T09:00:00+08:00'),
      tap('cD2', '2022-05-09T09:00:04+08:00', 'V1', 'R1', 'same'),
    ]);
    expect(count(truth, '2022-Q2', 'D')).toBe(1);
    expect(truth.totals.boardings).toBe(2);
  });

  it('the 30-minute window runs from the ride first tap: 29:59 joins, 30:00 starts a new ride', () => {
    // Taps at 10:00:00, 10:29:59 (joins), 10:30:00 (new ride: not less than 30 min after 10:00:00),
    // 10:59:59 (joins the 10:30 ride). All rated: 2 rides.
    const truth = run([
      tap('cA', '2022-05-09T10:00:00+08:00', 'V1', 'R1', 'same'),
      tap('cA', '2022-05-09T10:29:59+08:00'),
      tap('cA', '2022-05-09T10:30:00+08:00', 'V1', 'R1', 'same'),
      tap('cA', '2022-05-09T10:59:59+08:00'),
    ]);
    expect(count(truth, '2022-Q2', 'A')).toBe(2);
  });

  it('a quarter ends at Shanghai midnight', () => {
    // 2022-06-30 23:59:59 +08:00 is 15:59:59Z: Q2. 2022-07-01 00:00:00 +08:00 is Q3 (still June 30 in UTC).
    const truth = run([
      tap('cA', '2022-06-30T23:59:59+08:00', 'V1', 'R1', 'same'),
      tap('cA', '2022-07-01T00:00:00+08:00', 'V2', 'R1', 'same'),
    ]);
    expect(count(truth, '2022-Q2', 'A')).toBe(1);
    expect(count(truth, '2022-Q3', 'A')).toBe(1);
    expect(count(truth, '2022', 'A')).toBe(2);
    // The oracle's fixed-offset calendar agrees with the domain's luxon periods at the boundary.
    for (const iso of [
      '2022-06-30T23:59:59+08:00',
      '2022-07-01T00:00:00+08:00',
      '2022-12-31T23:59:59+08:00',
      '2023-01-01T00:00:00+08:00',
    ]) {
      const labels = periodLabelsOf(new Date(iso));
      expect([quarterLabelOf(at(iso)), yearLabelOf(at(iso))]).toEqual([labels.quarter, labels.year]);
    }
  });

  it('a rating at exactly 7 days counts; one second later does not', () => {
    const ride = at('2022-05-09T07:00:00+08:00');
    const truth = run([
      tap('cA', '2022-05-09T07:00:00+08:00', 'V1', 'R1', ride + 7 * DAY),
      tap('cD1', '2022-05-09T07:00:00+08:00', 'V1', 'R1', ride + 7 * DAY + 1000),
    ]);
    expect(count(truth, '2022-Q2', 'A')).toBe(1);
    expect(count(truth, '2022-Q2', 'D')).toBe(0);
  });

  it('a rating of a later tap is judged from the ride time (the first tap)', () => {
    // Ride at 07:00:00; the double tap at 07:00:05 is rated at 07:00:00 + 7 days + 3 s: too late.
    const first = at('2022-05-09T07:00:00+08:00');
    const truth = run([
      tap('cA', '2022-05-09T07:00:00+08:00'),
      tap('cA', '2022-05-09T07:00:05+08:00', 'V1', 'R1', first + 7 * DAY + 3000),
    ]);
    expect(count(truth, '2022-Q2', 'A')).toBe(0);
  });

  it('an employee leaving mid-quarter counts up to the last day in service (inclusive)', () => {
    // B in service to 2022-05-15: the ride of 05-15 23:00 counts, 05-16 00:30 does not.
    const truth = run([
      tap('cB', '2022-05-15T23:00:00+08:00', 'V1', 'R1', 'same'),
      tap('cB', '2022-05-16T00:30:00+08:00', 'V2', 'R1', 'same'),
    ]);
    expect(count(truth, '2022-Q2', 'B')).toBe(1);
    expect(truth.totals.rides.not_eligible).toBe(1);
  });

  it('an employer change to a non-eligible employer stops counting from the switch date', () => {
    const truth = run([
      tap('cM', '2022-05-19T18:00:00+08:00', 'V1', 'R1', 'same'),
      tap('cM', '2022-05-20T08:00:00+08:00', 'V1', 'R1', 'same'),
    ]);
    expect(count(truth, '2022-Q2', 'M')).toBe(1);
  });

  it('non-city routes do not count, the airport bus does', () => {
    const truth = run([
      tap('cA', '2022-05-09T08:00:00+08:00', 'V9', 'X1', 'same'),
      tap('cA', '2022-05-09T12:00:00+08:00', 'V8', 'K1', 'same'),
    ]);
    expect(count(truth, '2022-Q2', 'A')).toBe(1);
    expect(truth.totals.rides.not_city_route).toBe(1);
    expect(truth.volume.get('2022-05-09|X1')).toEqual({ boardings: 1, taps: 1 });
  });

  it('employees of a non-eligible type or outside the city area do not count', () => {
    const truth = run([
      tap('cC', '2022-05-09T08:00:00+08:00', 'V1', 'R1', 'same'),
      tap('cF', '2022-05-09T08:00:00+08:00', 'V2', 'R1', 'same'),
    ]);
    expect(truth.counts.get('2022-Q2')).toBeUndefined();
    expect(truth.totals.rides.not_eligible).toBe(2);
  });

  it('a tap belongs to a person only while the medium is bound (lost card, late registration)', () => {
    // cOld bound to 05-09 inclusive: the 05-09 ride counts, its 05-10 use (found by someone) is nobody's.
    // cR bound from 05-10: its 05-09 ride is nobody's, its 05-10 ride counts.
    const truth = run([
      tap('cOld', '2022-05-09T23:59:00+08:00', 'V1', 'R1', 'same'),
      tap('cOld', '2022-05-10T08:00:00+08:00', 'V2', 'R1', 'same'),
      tap('cNew', '2022-05-10T09:00:00+08:00', 'V3', 'R1', 'same'),
      tap('cR', '2022-05-09T08:00:00+08:00', 'V1', 'R1', 'same'),
      tap('cR', '2022-05-10T08:00:00+08:00', 'V1', 'R1', 'same'),
    ]);
    expect(count(truth, '2022-Q2', 'L')).toBe(2);
    expect(count(truth, '2022-Q2', 'R')).toBe(1);
    expect(truth.totals.unboundTaps).toBe(2);
  });

  it('R14: a repeat of one medium on one vehicle within 120 s inclusive is not a boarding', () => {
    const truth = run([
      tap('x1', '2022-05-09T08:00:00+08:00'),
      tap('x1', '2022-05-09T08:02:00+08:00'), // 120 s after the previous: repeat
      tap('x1', '2022-05-09T08:04:01+08:00'), // 121 s: a boarding
      tap('x1', '2022-05-09T08:04:30+08:00', 'V2'), // another vehicle: a boarding
    ]);
    expect(truth.totals).toMatchObject({ taps: 4, boardings: 3, unboundTaps: 4 });
  });

  it('refuses taps fed out of time order for a person', () => {
    const oracle = createOracle(city);
    oracle.add(tap('cA', '2022-05-09T08:00:00+08:00'));
    expect(() => oracle.add(tap('cA', '2022-05-09T07:00:00+08:00'))).toThrow(/out of time order/);
  });

  it('ranks with shared ties (1, 2, 2, 4)', () => {
    const ranked = rankShared(
      new Map([
        ['a', { rides: 5, lastCountedAt: 0 }],
        ['b', { rides: 3, lastCountedAt: 0 }],
        ['c', { rides: 3, lastCountedAt: 0 }],
        ['d', { rides: 1, lastCountedAt: 0 }],
      ]),
    );
    expect(ranked.map((r) => [r.ref, r.rank])).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 2],
      ['d', 4],
    ]);
  });

  it('groups rides as the domain groupRides does (both read R4 the same way)', () => {
    const base = at('2022-05-09T06:00:00+08:00');
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.integer({ min: 1, max: 3600 }), v: fc.constantFrom('V1', 'V2') }), {
          maxLength: 40,
        }),
        (steps) => {
          let t = base;
          const taps = steps.map((s, i) => {
            t += s.dt * 1000;
            return { tapId: i + 1, at: t, vehicleId: s.v, routeId: 'R1' };
          });
          const oracle = createOracle(city);
          for (const x of taps)
            oracle.add({
              tappedAt: x.at,
              vehicleId: x.vehicleId,
              routeId: 'R1',
              media: { type: 'transit_card', id: 'cA' },
              ratings: [{ ratedAt: x.at }],
            });
          const truth = oracle.finish();
          const counted = [...(truth.counts.get('2022-Q2')?.values() ?? [])].reduce((s, c) => s + c.rides, 0);
          expect(counted).toBe(groupRides(taps, 30 * 60).length);
        },
      ),
      { numRuns: 200 },
    );
  });
});
