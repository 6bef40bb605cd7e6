import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { findBusyDays, findTwoVehicleRides, findUnmatchedRatings } from './anomalies';
import { countPersonPeriod, indexRatings, planRegroup, type RegroupInput } from './counting';
import { isPersonEligibleOn, periodLabelsOfMs, shanghaiDateOfMs } from './eligibility';
import { groupRides, type Ride, type RideTap } from './rides';
import { defaultRules } from './rules';
import { markBoardings } from './volume';

const MIN = 60_000;
const W = 1800;
const key = (r: Ride) => r.taps.map((t) => t.tapId).join(',');

/** Applies a plan to a stored grouping the way the worker does: replace the stored groups in [deleteFrom, deleteTo). */
function applyPlan(
  stored: Ride[],
  input: Omit<RegroupInput<RideTap>, 'taps' | 'loadedFromMs' | 'loadedToMs'>,
  all: RideTap[],
): Ride[] {
  const sorted = [...all].sort((a, b) => a.at - b.at || a.tapId - b.tapId);
  for (const margin of [10 * MIN, 60 * MIN, 600 * MIN, Infinity]) {
    const lo = input.changedFromMs - margin;
    const hi = input.changedToMs + margin;
    const plan = planRegroup({
      ...input,
      taps: sorted.filter((t) => t.at >= lo && t.at < hi),
      loadedFromMs: lo,
      loadedToMs: hi === Infinity ? Infinity : hi,
    });
    if (plan.kind !== 'ready') continue;
    const pos = (r: Ride) => [r.first.at, r.first.tapId] as const;
    const ge = (a: readonly [number, number], b: { at: number; tapId: number } | null) =>
      !b || a[0] > b.at || (a[0] === b.at && a[1] >= b.tapId);
    const lt = (a: readonly [number, number], b: { at: number; tapId: number } | null) =>
      !b || a[0] < b.at || (a[0] === b.at && a[1] < b.tapId);
    const kept = stored.filter((r) => !(ge(pos(r), plan.deleteFrom) && lt(pos(r), plan.deleteTo)));
    return [...kept, ...plan.groups].sort((a, b) => a.first.at - b.first.at || a.first.tapId - b.first.tapId);
  }
  throw new Error('no plan');
}

const tapsArb = fc.array(
  fc.record({ minute: fc.integer({ min: 0, max: 900 }), v: fc.constantFrom('V1', 'V2') }),
  { maxLength: 30 },
);

describe('planRegroup (incremental R4 / R14)', () => {
  it('stored groups outside the plan + regrouped stretch = grouping everything (late taps in any order)', () => {
    fc.assert(
      fc.property(tapsArb, tapsArb, (oldRaw, newRaw) => {
        const old = oldRaw.map((r, i): RideTap => ({
          tapId: i + 1,
          at: r.minute * MIN,
          vehicleId: r.v,
          routeId: 'R',
        }));
        const fresh = newRaw.map((r, i): RideTap => ({
          tapId: 1000 + i,
          at: r.minute * MIN,
          vehicleId: r.v,
          routeId: 'R',
        }));
        const stored = groupRides(old, W);
        const all = [...old, ...fresh];
        if (fresh.length === 0) return;
        const changedFromMs = Math.min(...fresh.map((t) => t.at));
        const changedToMs = Math.max(...fresh.map((t) => t.at));
        const storedStarts = new Set(stored.map((r) => r.first.tapId));
        const result = applyPlan(stored, { changedFromMs, changedToMs, storedStarts, windowSeconds: W }, all);
        expect(result.map(key)).toEqual(groupRides(all, W).map(key));
      }),
      { numRuns: Number(process.env.PLAN_RUNS ?? 300) },
    );
  });

  it('handles taps leaving the key (a binding changed from an instant on)', () => {
    fc.assert(
      fc.property(
        tapsArb,
        fc.integer({ min: 0, max: 900 }),
        fc.integer({ min: 0, max: 10 }),
        (raw, cutMinute, mod) => {
          const before = raw.map((r, i): RideTap => ({
            tapId: i + 1,
            at: r.minute * MIN,
            vehicleId: r.v,
            routeId: 'R',
          }));
          const stored = groupRides(before, W);
          const after = before.filter((t, i) => t.at < cutMinute * MIN || i % (mod + 2) !== 0);
          const storedStarts = new Set(stored.map((r) => r.first.tapId));
          const result = applyPlan(
            stored,
            {
              changedFromMs: cutMinute * MIN,
              changedToMs: Infinity,
              storedStarts,
              removals: true,
              windowSeconds: W,
            },
            after,
          );
          expect(result.map(key)).toEqual(groupRides(after, W).map(key));
        },
      ),
      { numRuns: Number(process.env.PLAN_RUNS ?? 300) },
    );
  });
});

describe('rules', () => {
  it('Shanghai dates and periods by fixed offset agree with luxon', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.parse('2022-01-01T00:00:00Z'), max: Date.parse('2030-01-01T00:00:00Z') }),
        (ms) => {
          const d = DateTime.fromMillis(ms, { zone: 'Asia/Shanghai' });
          expect(shanghaiDateOfMs(ms)).toBe(d.toISODate());
          expect(periodLabelsOfMs(ms).quarter).toBe(`${d.year}-Q${Math.ceil(d.month / 3)}`);
        },
      ),
    );
  });

  it('judges eligibility on the ride date: in service, employer type and city area', () => {
    const rules = defaultRules(2022);
    const e = [
      {
        fromDate: '2022-05-01',
        toDateExclusive: '2022-08-01',
        employerType: 'soe' as const,
        employerCityArea: true,
      },
    ];
    expect(isPersonEligibleOn('2022-04-30', e, rules)).toBe(false);
    expect(isPersonEligibleOn('2022-05-01', e, rules)).toBe(true);
    expect(isPersonEligibleOn('2022-07-31', e, rules)).toBe(true);
    expect(isPersonEligibleOn('2022-08-01', e, rules)).toBe(false);
    expect(isPersonEligibleOn('2022-06-01', [{ ...e[0]!, employerCityArea: false }], rules)).toBe(false);
    expect(isPersonEligibleOn('2022-06-01', [{ ...e[0]!, employerType: 'other' }], rules)).toBe(false);
  });

  it('counts a ride in the period of its first tap: 23:50 on the last day of a quarter stays in it', () => {
    const at = (s: string) => Date.parse(s);
    const taps: RideTap[] = [
      { tapId: 1, at: at('2022-09-30T23:50:00+08:00'), vehicleId: 'V1', routeId: 'R1' },
      { tapId: 2, at: at('2022-10-01T00:05:00+08:00'), vehicleId: 'V1', routeId: 'R1' },
    ];
    const facts = {
      employments: [
        {
          fromDate: '2022-04-01',
          toDateExclusive: null,
          employerType: 'agency' as const,
          employerCityArea: true,
        },
      ],
      ratingsByTap: indexRatings([{ tapId: 2, ratedAtMs: at('2022-10-07T23:49:00+08:00') }]),
      exclusions: [],
    };
    const ctx = { cityRoutes: new Set(['R1']), rulesFor: defaultRules };
    expect(countPersonPeriod({ taps, facts, ctx, rideGroupSeconds: W, period: '2022-Q3' }).rides).toBe(1);
    expect(countPersonPeriod({ taps, facts, ctx, rideGroupSeconds: W, period: '2022-Q4' }).rides).toBe(0);
    // rated more than 7 days after the ride: not counted
    const late = {
      ...facts,
      ratingsByTap: indexRatings([{ tapId: 2, ratedAtMs: at('2022-10-07T23:51:00+08:00') }]),
    };
    expect(countPersonPeriod({ taps, facts: late, ctx, rideGroupSeconds: W, period: '2022-Q3' }).rides).toBe(
      0,
    );
    // excluded period
    expect(
      countPersonPeriod({
        taps,
        facts: { ...facts, exclusions: [{ period: '2022', tapId: null }] },
        ctx,
        rideGroupSeconds: W,
        period: '2022-Q3',
      }).rides,
    ).toBe(0);
  });

  it('R14: a repeat within 120 s of the last boarding is not a boarding, anchored at the boarding', () => {
    const t = (id: number, s: number) => ({ tapId: id, at: s * 1000, routeId: 'R1' });
    expect([...markBoardings([t(1, 0), t(2, 100), t(3, 200), t(4, 300), t(5, 400)], 120)]).toEqual([1, 3, 5]);
    expect([...markBoardings([t(1, 0), t(2, 120)], 120)]).toEqual([1, 2]);
  });

  it('R13: busy days, two vehicles within 60 s, ratings without a ride', () => {
    const ride = (id: number, s: number, v: string) => ({
      firstTapId: id,
      atMs: Date.parse('2022-05-01T08:00:00+08:00') + s * 1000,
      vehicleId: v,
      counted: true,
      tapIds: [id],
    });
    const rides = Array.from({ length: 11 }, (_, i) => ride(i + 1, i * 3600, 'V1'));
    expect(findBusyDays(rides, 10)).toEqual([{ date: '2022-05-01', rides: 11 }]);
    expect(findBusyDays(rides.slice(1), 10)).toEqual([]);
    expect(
      findTwoVehicleRides([ride(1, 0, 'V1'), ride(2, 59, 'V2'), ride(3, 200, 'V1')], 60).map((p) => [
        p.a.firstTapId,
        p.b.firstTapId,
      ]),
    ).toEqual([[1, 2]]);
    expect(findUnmatchedRatings([{ tapId: 1 }, { tapId: 99 }], rides)).toEqual([{ tapId: 99 }]);
  });
});
