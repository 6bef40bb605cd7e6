import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPersonTaps, sql } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { groupRides } from '@ridetally/domain';
import { bindMedium } from './binding.service';
import { registerPerson } from './person.service';
import { findRidesOfPerson } from './ride.service';
import { insertTap, makeIdNumber, testClock, testKeyring } from './testing/registry-test-kit';

let tdb: TestDatabase;
const keyring = testKeyring();
const clock = testClock('2023-01-01T00:00:00+08:00');
const WINDOW = 1800;
const START = new Date('2022-06-01T00:00:00+08:00').getTime();
const DAY = 86_400_000;

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb.drop();
});

describe('findRidesOfPerson', () => {
  it('groups any window exactly as grouping the whole history would (property, real database)', async () => {
    const deps = { db: tdb.db, keyring, now: clock.now };
    let n = 0;
    // Dense taps (gaps of 0-40 min, two vehicles) so rides often straddle a window's start.
    const arb = fc.record({
      gaps: fc.array(fc.record({ minutes: fc.integer({ min: 0, max: 40 }), vehicle: fc.constantFrom('V1', 'V2') }), { minLength: 1, maxLength: 120 }),
      fromMinute: fc.integer({ min: 0, max: 3 * 24 * 60 }),
      spanMinutes: fc.integer({ min: 1, max: 24 * 60 }),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ gaps, fromMinute, spanMinutes }) => {
        n++;
        const { personId } = await registerPerson(deps, { idNumber: makeIdNumber('141102', '19800101', n), name: '测试者' });
        await bindMedium(deps, { personId, type: 'qr', id: `QR-${n}`, validFrom: '2022-05-01' });
        let t = START;
        for (const g of gaps) {
          t += g.minutes * 60_000;
          await insertTap(tdb.db, { tappedAt: new Date(t), mediaType: 'qr', mediaKey: `QR-${n}`, vehicleId: g.vehicle });
        }
        const from = new Date(START + fromMinute * 60_000);
        const to = new Date(from.getTime() + spanMinutes * 60_000);
        const all = (await findPersonTaps(tdb.db, personId, new Date(START - DAY), new Date(START + 10 * DAY))).map((r) => ({
          tapId: r.tap_id,
          at: r.tapped_at.getTime(),
          vehicleId: r.vehicle_id,
          routeId: r.route_id,
        }));
        const expected = groupRides(all, WINDOW)
          .filter((r) => r.first.at >= from.getTime() && r.first.at < to.getTime())
          .map((r) => r.taps.map((x) => x.tapId));
        const got = (await findRidesOfPerson(tdb.db, personId, from, to, WINDOW)).map((r) => r.taps.map((x) => x.tapId));
        expect(got).toEqual(expected);
      }),
      { numRuns: 25, seed: 20260103 },
    );
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM taps`.execute(tdb.db);
    expect(rows[0]!.n).toBeGreaterThan(25);
  });
});
