/**
 * The recompute on PGlite (the embedded mode): its bulk loads run there as plain queries (no COPY)
 * and its writes through the ordinary statements; it writes the same rides as the engine, and
 * `--check` then finds nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest, openDatabase, sql, type DatabaseHandle } from '@ridetally/db';
import { recomputePeriod } from './recompute';
import {
  insertBinding,
  insertEmployer,
  insertEmployment,
  insertPerson,
  insertRating,
  insertRoute,
  insertTapBatch,
} from './testing/fixtures';

describe('recompute on PGlite', () => {
  let h: DatabaseHandle;
  beforeAll(async () => {
    h = await openDatabase({});
    await migrateToLatest(h.db);
  }, 120_000);
  afterAll(() => h.close());

  it('writes the rides and counts the engine derives, then finds no difference', async () => {
    const db = h.db;
    const person = await insertPerson(db);
    await insertEmployer(db, 'E1', 'agency', true);
    await insertEmployment(db, person, 'E1', '2022-04-01', null);
    await insertRoute(db, 'R1', true);
    await insertBinding(db, {
      personId: person,
      mediaType: 'transit_card',
      mediaKey: 'c1',
      from: '2022-04-01T00:00:00+08:00',
      to: null,
    });
    const base = Date.parse('2022-07-01T07:50:00+08:00');
    // a double tap, a chain on one vehicle lasting over 30 min (a second ride from 2,000 s), a transfer
    const offsets = [0, 8, 1200, 2000, 2100, 2110];
    const vehicles = ['V1', 'V1', 'V1', 'V1', 'V1', 'V2'];
    const { tapIds } = await insertTapBatch(
      db,
      offsets.map((s, i) => ({
        at: new Date(base + s * 1000),
        vehicleId: vehicles[i]!,
        routeId: 'R1',
        mediaType: 'transit_card' as const,
        mediaKey: 'c1',
      })),
    );
    await insertRating(db, {
      personId: person,
      tapId: tapIds[3]!,
      tapAt: new Date(base),
      ratedAt: new Date(base + 3_600_000),
    });
    await insertRating(db, {
      personId: person,
      tapId: tapIds[5]!,
      tapAt: new Date(base),
      ratedAt: new Date(base + 3_600_000),
    });

    const report = await recomputePeriod(db, '2022-Q3');
    expect(report.rides).toBe(3);
    expect(report.taps).toBe(6);
    const { rows } = await sql<{ first_tap_id: number; tap_ids: number[]; counted: boolean }>`
      SELECT first_tap_id, tap_ids, counted FROM rides ORDER BY tapped_at, first_tap_id`.execute(db);
    expect(rows.map((r) => [Number(r.first_tap_id), r.tap_ids.map(Number), r.counted])).toEqual([
      [tapIds[0], tapIds.slice(0, 3), false],
      [tapIds[3], tapIds.slice(3, 5), true],
      [tapIds[5], [tapIds[5]], true],
    ]);
    const counts = await sql<{ period: string; rides: number }>`
      SELECT period, rides FROM person_period_counts ORDER BY period`.execute(db);
    expect(counts.rows).toEqual([
      { period: '2022', rides: 2 },
      { period: '2022-Q3', rides: 2 },
    ]);
    expect((await recomputePeriod(db, '2022-Q3', { check: true })).differences).toEqual([]);
    expect((await recomputePeriod(db, '2022', { check: true, engineRides: true })).differences).toEqual([]);
  }, 120_000);
});
