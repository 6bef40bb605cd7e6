/**
 * Incremental counts = full recompute = a plain reference computation of R1-R6 and R14 written here,
 * on random worlds: rosters joining and leaving, several media per person, replaced cards, double
 * taps, transfers, quarter and year boundaries at Shanghai midnight, taps arriving late and out of
 * order in random batches processed in random order, ratings in and out of the 7-day window,
 * exclusions and a route registered late; tap batches and ratings applied one per transaction or
 * coalesced, ratings mixed with still-pending batches.
 */
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPendingOutboxIds, sql } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { processOutboxEntry } from './processors/outbox.processor';
import { recomputePeriod } from './recompute';
import {
  insertBinding,
  insertEmployer,
  insertEmployment,
  insertExclusion,
  insertPerson,
  insertRating,
  insertRoute,
  insertTapBatch,
  truncateAll,
} from './testing/fixtures';

// ------------------------------------------------------------------ the reference (plain R1-R6, R14)
interface RefTap {
  id: number;
  at: number;
  vehicle: string;
  route: string;
  media: string;
}
interface RefBinding {
  person: number;
  media: string;
  from: number;
  to: number;
}
interface RefEmployment {
  person: number;
  employer: string;
  from: string;
  toExcl: string;
}
interface RefWorld {
  taps: RefTap[];
  bindings: RefBinding[];
  employments: RefEmployment[];
  employers: Record<string, { type: string; city: boolean }>;
  cityRoutes: Set<string>;
  ratings: { person: number; tapId: number; ratedAt: number }[];
  exclusions: { person: number; period: string; tapId: number | null }[];
}

const shDate = (ms: number) => DateTime.fromMillis(ms, { zone: 'Asia/Shanghai' }).toISODate()!;
const shQuarter = (ms: number) => {
  const d = DateTime.fromMillis(ms, { zone: 'Asia/Shanghai' });
  return `${d.year}-Q${Math.ceil(d.month / 3)}`;
};

function referenceCounts(w: RefWorld, persons: number): Map<string, number> {
  const out = new Map<string, number>();
  for (let p = 0; p < persons; p++) {
    const mine = w.taps
      .filter((t) =>
        w.bindings.some((b) => b.person === p && b.media === t.media && b.from <= t.at && t.at < b.to),
      )
      .sort((a, b) => a.at - b.at || a.id - b.id);
    const rides: RefTap[][] = [];
    for (const t of mine) {
      const cur = rides[rides.length - 1];
      if (cur && cur[0]!.vehicle === t.vehicle && t.at - cur[0]!.at < 30 * 60_000) cur.push(t);
      else rides.push([t]);
    }
    for (const ride of rides) {
      const first = ride[0]!;
      const date = shDate(first.at);
      const q = shQuarter(first.at);
      const y = q.slice(0, 4);
      const emp = w.employments.find((e) => e.person === p && e.from <= date && date < e.toExcl);
      const employer = emp && w.employers[emp.employer];
      const eligible =
        !!employer &&
        employer.city &&
        ['agency', 'institution', 'soe'].includes(employer.type) &&
        w.cityRoutes.has(first.route);
      const rated = w.ratings.some(
        (r) =>
          r.person === p &&
          ride.some((t) => t.id === r.tapId) &&
          r.ratedAt >= first.at &&
          r.ratedAt <= first.at + 7 * 86_400_000,
      );
      const excluded = w.exclusions.some(
        (e) =>
          e.person === p &&
          (e.period === q || e.period === y) &&
          (e.tapId === null || ride.some((t) => t.id === e.tapId)),
      );
      if (!(eligible && rated && !excluded)) continue;
      for (const period of [q, y]) out.set(`${p}:${period}`, (out.get(`${p}:${period}`) ?? 0) + 1);
    }
  }
  return out;
}

function referenceVolume(w: RefWorld): Map<string, string> {
  const byKey = new Map<string, RefTap[]>();
  for (const t of w.taps) {
    const k = `${t.media}|${t.vehicle}`;
    byKey.set(k, [...(byKey.get(k) ?? []), t]);
  }
  const sums = new Map<string, { b: number; t: number }>();
  for (const list of byKey.values()) {
    list.sort((a, b) => a.at - b.at || a.id - b.id);
    let anchor = -Infinity;
    for (const t of list) {
      const boarding = t.at - anchor >= 120_000;
      if (boarding) anchor = t.at;
      const k = `${shDate(t.at)}|${t.route}`;
      const s = sums.get(k) ?? { b: 0, t: 0 };
      s.t++;
      if (boarding) s.b++;
      sums.set(k, s);
    }
  }
  return new Map([...sums].map(([k, v]) => [k, `${v.b}/${v.t}`]));
}

// ------------------------------------------------------------------ generators
const ANCHORS = ['2022-06-30T23:30:00+08:00', '2022-07-01T08:00:00+08:00', '2022-12-31T23:40:00+08:00'].map(
  (s) => Date.parse(s),
);
const MEDIA = ['c1', 'c2', 'c3', 'c4', 'c5'];
const tapArb = fc.record({
  anchor: fc.integer({ min: 0, max: ANCHORS.length - 1 }),
  offsetS: fc.oneof(fc.integer({ min: 0, max: 5400 }), fc.integer({ min: 0, max: 300 })),
  vehicle: fc.constantFrom('V1', 'V2'),
  route: fc.constantFrom('R1', 'R1', 'R2', 'R3'),
  media: fc.constantFrom(...MEDIA),
  dup: fc.boolean(),
});
const worldArb = fc.record({
  taps: fc.array(tapArb, { minLength: 1, maxLength: 30 }),
  /** media → person (index) and whether the binding is cut at the middle anchor (card replaced) */
  owners: fc.array(fc.record({ person: fc.integer({ min: 0, max: 2 }), cut: fc.boolean() }), {
    minLength: MEDIA.length,
    maxLength: MEDIA.length,
  }),
  employment: fc.array(
    fc.record({
      employer: fc.constantFrom('E_OK', 'E_OTHER', 'E_RURAL'),
      from: fc.constantFrom('2022-04-01', '2022-07-01', '2022-12-31'),
      to: fc.constantFrom('2022-07-01', '2023-01-01', '2023-02-01'),
    }),
    { minLength: 3, maxLength: 3 },
  ),
  batches: fc.integer({ min: 1, max: 5 }),
  order: fc.array(fc.nat(), { maxLength: 40 }),
  ratings: fc.array(fc.record({ tap: fc.nat(), offsetH: fc.integer({ min: -1, max: 200 }) }), {
    maxLength: 12,
  }),
  excludeQuarter: fc.option(fc.integer({ min: 0, max: 2 }), { nil: null }),
  excludeTap: fc.option(fc.nat(), { nil: null }),
  lateCard: fc.boolean(),
  processEvery: fc.integer({ min: 1, max: 3 }),
});

describe('aggregation: incremental = recompute = reference', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t.drop());

  async function drainAll(shuffle: number[]): Promise<void> {
    for (;;) {
      const ids = await findPendingOutboxIds(t.db, 1000);
      if (ids.length === 0) return;
      const k = shuffle.length ? shuffle[ids.length % shuffle.length]! % ids.length : 0;
      await processOutboxEntry(t.db, ids[k]!, {
        coalesceTapBatches: (shuffle[0] ?? 0) % 3,
        coalesceRatings: [0, 1, 4, 100][(shuffle[1] ?? 0) % 4],
      });
    }
  }

  it('holds on random worlds', async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (g) => {
        await truncateAll(t.db);
        const persons = [await insertPerson(t.db), await insertPerson(t.db), await insertPerson(t.db)];
        await insertEmployer(t.db, 'E_OK', 'agency', true);
        await insertEmployer(t.db, 'E_OTHER', 'other', true);
        await insertEmployer(t.db, 'E_RURAL', 'soe', false);
        await insertRoute(t.db, 'R1', true);
        await insertRoute(t.db, 'R2', false);
        const w: RefWorld = {
          taps: [],
          bindings: [],
          employments: [],
          employers: {
            E_OK: { type: 'agency', city: true },
            E_OTHER: { type: 'other', city: true },
            E_RURAL: { type: 'soe', city: false },
          },
          cityRoutes: new Set(['R1']),
          ratings: [],
          exclusions: [],
        };
        const cutAt = ANCHORS[1]!;
        // c5 is bound only later (a card registered after its taps) when lateCard is set
        for (let m = 0; m < MEDIA.length - 1; m++) {
          const o = g.owners[m]!;
          const to = o.cut ? cutAt : Infinity;
          await insertBinding(t.db, {
            personId: persons[o.person]!,
            mediaType: 'transit_card',
            mediaKey: MEDIA[m]!,
            from: '2022-04-01T00:00:00+08:00',
            to: o.cut ? new Date(cutAt).toISOString() : null,
          });
          w.bindings.push({
            person: o.person,
            media: MEDIA[m]!,
            from: Date.parse('2022-04-01T00:00:00+08:00'),
            to,
          });
        }
        for (let p = 0; p < 3; p++) {
          const e = g.employment[p]!;
          if (e.from >= e.to) continue;
          await insertEmployment(t.db, persons[p]!, e.employer, e.from, e.to);
          w.employments.push({ person: p, employer: e.employer, from: e.from, toExcl: e.to });
        }
        // taps, with double taps, split into batches that arrive in a shuffled order
        const raw = g.taps.flatMap((x) => {
          const at = ANCHORS[x.anchor]! + x.offsetS * 1000;
          const one = { at, vehicle: x.vehicle, route: x.route, media: x.media };
          return x.dup ? [one, { ...one, at: at + 20_000 }] : [one];
        });
        const batches: (typeof raw)[] = Array.from({ length: g.batches }, () => []);
        raw.forEach((r, i) => batches[(g.order[i] ?? i) % g.batches]!.push(r));
        let step = 0;
        for (const batch of batches) {
          const { tapIds } = await insertTapBatch(
            t.db,
            batch.map((r) => ({
              at: new Date(r.at),
              vehicleId: r.vehicle,
              routeId: r.route,
              mediaType: 'transit_card',
              mediaKey: r.media,
            })),
          );
          batch.forEach((r, i) => w.taps.push({ id: tapIds[i]!, ...r }));
          if (++step % g.processEvery === 0) await drainAll(g.order);
        }
        // ratings (of taps whose medium is bound at the time), some late, some outside the window
        const seen = new Set<number>();
        for (const r of g.ratings) {
          const tap = w.taps[r.tap % w.taps.length]!;
          const b = w.bindings.find((x) => x.media === tap.media && x.from <= tap.at && tap.at < x.to);
          if (!b || seen.has(tap.id)) continue;
          seen.add(tap.id);
          const ratedAt = tap.at + r.offsetH * 3_600_000;
          await insertRating(t.db, {
            personId: persons[b.person]!,
            tapId: tap.id,
            tapAt: new Date(tap.at),
            ratedAt: new Date(ratedAt),
          });
          w.ratings.push({ person: b.person, tapId: tap.id, ratedAt });
        }
        if (g.excludeQuarter !== null) {
          await insertExclusion(t.db, { personId: persons[g.excludeQuarter]!, period: '2022-Q3' });
          w.exclusions.push({ person: g.excludeQuarter, period: '2022-Q3', tapId: null });
        }
        if (g.excludeTap !== null) {
          const tap = w.taps[g.excludeTap % w.taps.length]!;
          const b = w.bindings.find((x) => x.media === tap.media && x.from <= tap.at && tap.at < x.to);
          if (b) {
            await insertExclusion(t.db, { personId: persons[b.person]!, period: '2022-Q3', tapId: tap.id });
            w.exclusions.push({ person: b.person, period: '2022-Q3', tapId: tap.id });
          }
        }
        if (g.lateCard) {
          await insertBinding(
            t.db,
            {
              personId: persons[0]!,
              mediaType: 'transit_card',
              mediaKey: 'c5',
              from: '2022-06-30T00:00:00+08:00',
              to: null,
            },
            true,
          );
          w.bindings.push({
            person: 0,
            media: 'c5',
            from: Date.parse('2022-06-30T00:00:00+08:00'),
            to: Infinity,
          });
        }
        await insertRoute(t.db, 'R3', true, true);
        w.cityRoutes.add('R3');
        await drainAll(g.order);

        // incremental = reference
        const { rows } = await sql<{
          person_id: string;
          period: string;
          rides: number;
        }>`SELECT person_id, period, rides FROM person_period_counts WHERE rides > 0`.execute(t.db);
        const got = new Map(rows.map((r) => [`${persons.indexOf(r.person_id)}:${r.period}`, r.rides]));
        expect(got).toEqual(referenceCounts(w, 3));
        const vol = await sql<{
          d: string;
          route_id: string;
          boardings: number;
          taps: number;
        }>`SELECT service_date AS d, route_id, boardings, taps FROM volume_daily WHERE taps > 0`.execute(
          t.db,
        );
        expect(new Map(vol.rows.map((r) => [`${r.d}|${r.route_id}`, `${r.boardings}/${r.taps}`]))).toEqual(
          referenceVolume(w),
        );

        // incremental = recompute
        for (const period of ['2022-Q2', '2022-Q3', '2022-Q4', '2023-Q1', '2022', '2023']) {
          const check = await recomputePeriod(t.db, period, { check: true });
          expect(check.differences).toEqual([]);
        }
        // a writing recompute of a consistent database changes nothing, in its period or next to it
        const state = async () => {
          const { rows } = await sql<{ h: string }>`
            SELECT md5(concat_ws('|',
              (SELECT string_agg(concat_ws(',', person_id, first_tap_id, tapped_at, vehicle_id, route_id, tap_ids, quarter, eligible, rated, counted, excluded, rules_version), ';' ORDER BY person_id, first_tap_id) FROM rides),
              (SELECT string_agg(concat_ws(',', tap_id, tapped_at, route_id, boarding), ';' ORDER BY tap_id) FROM tap_boardings),
              (SELECT string_agg(concat_ws(',', person_id, period, rides, last_counted_at, rules_version), ';' ORDER BY person_id, period) FROM person_period_counts),
              (SELECT string_agg(concat_ws(',', service_date, route_id, boardings, taps), ';' ORDER BY service_date, route_id) FROM volume_daily))) AS h`.execute(
            t.db,
          );
          return rows[0]!.h;
        };
        const before = await state();
        for (const period of ['2022-Q3', '2022', '2023']) {
          await recomputePeriod(t.db, period);
          expect(await state()).toBe(before);
        }
        const after = await sql<{
          person_id: string;
          period: string;
          rides: number;
        }>`SELECT person_id, period, rides FROM person_period_counts WHERE rides > 0`.execute(t.db);
        expect(
          new Map(after.rows.map((r) => [`${persons.indexOf(r.person_id)}:${r.period}`, r.rides])),
        ).toEqual(got);
      }),
      { numRuns: Number(process.env.AGG_PROPERTY_RUNS ?? 25) },
    );
  }, 600_000);
});
