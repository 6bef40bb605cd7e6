import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupRides, startsRideRegardless, type RideTap } from './rides';

const MIN = 60_000;
const tap = (tapId: number, minute: number, vehicleId = 'V1'): RideTap => ({ tapId, at: minute * MIN, vehicleId, routeId: 'R1' });
const ids = (taps: readonly RideTap[]) => groupRides(taps, 1800).map((r) => r.taps.map((t) => t.tapId));

describe('groupRides (R4)', () => {
  it('merges double taps and several cards on one vehicle within 30 minutes of the first tap', () => {
    expect(ids([tap(1, 0), tap(2, 0), tap(3, 29.99)])).toEqual([[1, 2, 3]]);
  });

  it('anchors the window at the ride’s first tap, not the previous tap', () => {
    expect(ids([tap(1, 0), tap(2, 20), tap(3, 40), tap(4, 60)])).toEqual([[1, 2], [3, 4]]);
  });

  it('starts a new ride at exactly 30 minutes', () => {
    expect(ids([tap(1, 0), tap(2, 30)])).toEqual([[1], [2]]);
  });

  it('treats a transfer to another vehicle, and a return, as new rides', () => {
    expect(ids([tap(1, 0, 'V1'), tap(2, 5, 'V2'), tap(3, 10, 'V1')])).toEqual([[1], [2], [3]]);
  });

  it('orders equal times by tap id', () => {
    expect(ids([tap(2, 0, 'V2'), tap(1, 0, 'V1')])).toEqual([[1], [2]]);
  });

  it('groups exactly from any reset point onwards (property)', () => {
    const arb = fc.array(fc.record({ minute: fc.integer({ min: 0, max: 600 }), v: fc.constantFrom('V1', 'V2') }), { maxLength: 40 });
    fc.assert(
      fc.property(arb, (raw) => {
        const taps = raw.map((r, i) => tap(i + 1, r.minute, r.v));
        const all = groupRides(taps, 1800);
        const sorted = all.flatMap((r) => r.taps);
        for (let i = 0; i < sorted.length; i++) {
          if (!startsRideRegardless(sorted[i - 1], sorted[i]!, 1800)) continue;
          const suffix = groupRides(sorted.slice(i), 1800).map((r) => r.first.tapId);
          const expected = all.filter((r) => sorted.indexOf(r.first) >= i).map((r) => r.first.tapId);
          expect(suffix).toEqual(expected);
        }
      }),
    );
  });
});
