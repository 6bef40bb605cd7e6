/**
 * The recompute's bulk rides phase (the domain rules run on taps, ratings and rides streamed per
 * chunk of persons) against a plain reference written here and against the worker's engine (its own
 * loads, its window widened step by step), on random worlds the
 * worker never processed: long chains on one vehicle (rides cut by the window anchored at each ride's
 * first tap), taps of two vehicles at the same instant, rides across the period's start and end at
 * Shanghai midnight, replaced cards, employments starting and ending mid-period, ratings in and out
 * of the window (of the ride's year's rules, with a custom rules version for 2023), period and ride
 * exclusions (also naming another period, or revoked). The writing recompute must store exactly the
 * reference's rides and counts; `--check` must then find nothing, by both paths; a corrupted ride or
 * count must be found and repaired.
 */
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
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

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Chain starts around 2022-Q3's start, inside it, around its end (= the year's Q4 start) and the year's end. */
const ANCHORS = [
  '2022-06-30T23:20:00+08:00',
  '2022-07-01T08:00:00+08:00',
  '2022-09-30T23:35:00+08:00',
  '2022-12-31T23:40:00+08:00',
  '2023-01-01T00:10:00+08:00',
].map((s) => Date.parse(s));
const MEDIA = ['c1', 'c2', 'c3', 'c4'];
const CUT = Date.parse('2022-08-15T00:00:00+08:00');
/** 2023 uses a stored rules version: a 2-day rating window and no SOE staff. */
const RULES: Record<number, { ratingDays: number; types: string[]; version: string }> = {
  2022: { ratingDays: 7, types: ['agency', 'institution', 'soe'], version: '2022.default' },
  2023: { ratingDays: 2, types: ['agency', 'institution'], version: '2023.test' },
};

interface Tap {
  id: number;
  at: number;
  vehicle: string;
  route: string;
  media: string;
}
interface World {
  taps: Tap[];
  bindings: { person: number; media: string; from: number; to: number }[];
  employments: { person: number; employer: string; from: string; toExcl: string }[];
  ratings: { person: number; tapId: number; ratedAt: number }[];
  exclusions: { person: number; period: string; tapId: number | null }[];
}
const EMPLOYERS: Record<string, { type: string; city: boolean }> = {
  E_OK: { type: 'agency', city: true },
  E_SOE: { type: 'soe', city: true },
  E_OTHER: { type: 'other', city: true },
  E_RURAL: { type: 'agency', city: false },
};
const CITY = new Set(['R1', 'R3']);

const sh = (ms: number) => DateTime.fromMillis(ms, { zone: 'Asia/Shanghai' });

interface RefRide {
  person: number;
  first: number;
  tapIds: number[];
  at: number;
  quarter: string;
  eligible: boolean;
  rated: boolean;
  excluded: boolean;
}

function referenceRides(w: World, persons: number): RefRide[] {
  const out: RefRide[] = [];
  for (let p = 0; p < persons; p++) {
    const mine = w.taps
      .filter((t) =>
        w.bindings.some((b) => b.person === p && b.media === t.media && b.from <= t.at && t.at < b.to),
      )
      .sort((a, b) => a.at - b.at || a.id - b.id);
    const rides: Tap[][] = [];
    for (const t of mine) {
      const cur = rides[rides.length - 1];
      if (cur && cur[0]!.vehicle === t.vehicle && t.at - cur[0]!.at < 30 * MIN) cur.push(t);
      else rides.push([t]);
    }
    for (const ride of rides) {
      const first = ride[0]!;
      const d = sh(first.at);
      const date = d.toISODate()!;
      const q = `${d.year}-Q${Math.ceil(d.month / 3)}`;
      const y = String(d.year);
      const rules = RULES[d.year]!;
      const emp = w.employments.find((e) => e.person === p && e.from <= date && date < e.toExcl);
      const employer = emp && EMPLOYERS[emp.employer];
      const eligible =
        !!employer && employer.city && rules.types.includes(employer.type) && CITY.has(first.route);
      const rated = w.ratings.some(
        (r) =>
          r.person === p &&
          ride.some((t) => t.id === r.tapId) &&
          r.ratedAt >= first.at &&
          r.ratedAt <= first.at + rules.ratingDays * DAY,
      );
      const excluded = w.exclusions.some(
        (e) =>
          e.person === p &&
          (e.period === q || e.period === y) &&
          (e.tapId === null || ride.some((t) => t.id === e.tapId)),
      );
      out.push({
        person: p,
        first: first.id,
        tapIds: ride.map((t) => t.id),
        at: first.at,
        quarter: q,
        eligible,
        rated,
        excluded,
      });
    }
  }
  return out;
}

const chainArb = fc.record({
  anchor: fc.integer({ min: 0, max: ANCHORS.length - 1 }),
  offsetS: fc.integer({ min: 0, max: 3600 }),
  /** gaps between the chain's taps: double taps, a chain of taps every 10-29 min, a transfer */
  gapsS: fc.array(
    fc.oneof(
      fc.integer({ min: 0, max: 30 }),
      fc.integer({ min: 600, max: 1799 }),
      fc.constantFrom(0, 1799, 1800),
    ),
    {
      maxLength: 6,
    },
  ),
  vehicles: fc.array(fc.constantFrom('V1', 'V2'), { minLength: 7, maxLength: 7 }),
  route: fc.constantFrom('R1', 'R1', 'R2', 'R3'),
  media: fc.constantFrom(...MEDIA),
});

const worldArb = fc.record({
  chains: fc.array(chainArb, { minLength: 1, maxLength: 8 }),
  owners: fc.array(fc.record({ person: fc.integer({ min: 0, max: 2 }), cut: fc.boolean() }), {
    minLength: MEDIA.length,
    maxLength: MEDIA.length,
  }),
  employment: fc.array(
    fc.record({
      employer: fc.constantFrom('E_OK', 'E_SOE', 'E_OTHER', 'E_RURAL'),
      from: fc.constantFrom('2022-04-01', '2022-07-01', '2022-08-20', '2023-01-01'),
      to: fc.constantFrom('2022-07-01', '2022-09-10', '2023-01-01', '2024-01-01'),
    }),
    { minLength: 3, maxLength: 3 },
  ),
  ratings: fc.array(fc.record({ tap: fc.nat(), offsetH: fc.integer({ min: -1, max: 200 }) }), {
    maxLength: 15,
  }),
  exclusions: fc.array(
    fc.record({
      person: fc.integer({ min: 0, max: 2 }),
      period: fc.constantFrom('2022-Q3', '2022-Q4', '2022', '2023-Q1'),
      tap: fc.option(fc.nat(), { nil: null }),
      revoked: fc.boolean(),
    }),
    { maxLength: 3 },
  ),
  period: fc.constantFrom('2022-Q3', '2022-Q4', '2022', '2023-Q1', '2023'),
  corrupt: fc.nat(),
});

describe('recompute: bulk rides = reference = engine', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t.drop());

  it('flags days of more than ten counted rides, in the period and on the loaded day before it', async () => {
    await truncateAll(t.db);
    const person = await insertPerson(t.db);
    await insertEmployer(t.db, 'A1', 'agency', true);
    await insertEmployment(t.db, person, 'A1', '2022-04-01', null);
    await insertRoute(t.db, 'R1', true);
    await insertBinding(t.db, {
      personId: person,
      mediaType: 'transit_card',
      mediaKey: 'busy',
      from: '2022-04-01T00:00:00+08:00',
      to: null,
    });
    // 11 rides on the day before 2022-Q3 (the last from 23:50 to a second tap after midnight, so that
    // Q3's first stretch begins that day), 12 on a day in Q3, 10 (not more than ten) on another; one
    // vehicle, 40 min apart: one ride per tap, each rated.
    const days: [string, number][] = [
      ['2022-06-30T08:00:00+08:00', 10],
      ['2022-06-30T23:50:00+08:00', 1],
      ['2022-07-01T00:10:00+08:00', 1],
      ['2022-08-10T07:00:00+08:00', 12],
      ['2022-08-11T07:00:00+08:00', 10],
    ];
    const times = days.flatMap(([first, n]) =>
      Array.from({ length: n }, (_, i) => Date.parse(first) + i * 40 * MIN),
    );
    const { tapIds } = await insertTapBatch(
      t.db,
      times.map((at) => ({
        at: new Date(at),
        vehicleId: 'V1',
        routeId: 'R1',
        mediaType: 'transit_card' as const,
        mediaKey: 'busy',
      })),
    );
    for (let i = 0; i < times.length; i++)
      await insertRating(t.db, {
        personId: person,
        tapId: tapIds[i]!,
        tapAt: new Date(times[i]!),
        ratedAt: new Date(times[i]! + HOUR),
      });
    const busy = async () =>
      (
        await sql<{ key: string; rides: number }>`
          SELECT key, (details->>'rides')::int AS rides FROM anomalies WHERE kind = 'rides_per_day' ORDER BY key`.execute(
          t.db,
        )
      ).rows;
    // Q2 stores its rides and flags its last day.
    await recomputePeriod(t.db, '2022-Q2');
    expect(await busy()).toEqual([{ key: `${person}:2022-06-30`, rides: 11 }]);
    await sql`DELETE FROM anomalies`.execute(t.db);
    // Q3 flags its own day from the derived rides, and the day before it (where its first ride's
    // stretch begins) from the rides stored.
    await recomputePeriod(t.db, '2022-Q3');
    expect(await busy()).toEqual([
      { key: `${person}:2022-06-30`, rides: 11 },
      { key: `${person}:2022-08-10`, rides: 12 },
    ]);
  });

  it('writes the reference rides and counts of a period the worker never processed', async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (g) => {
        await truncateAll(t.db);
        await sql`INSERT INTO rules_versions (version, year, rules) VALUES ('2023.test', 2023, ${JSON.stringify(
          {
            ratingWindowDays: RULES[2023]!.ratingDays,
            eligibleEmployerTypes: RULES[2023]!.types,
          },
        )}::jsonb)`.execute(t.db);
        await sql`INSERT INTO programme_years (year, rules_version) VALUES (2023, '2023.test')`.execute(t.db);
        const persons = [await insertPerson(t.db), await insertPerson(t.db), await insertPerson(t.db)];
        for (const [code, e] of Object.entries(EMPLOYERS))
          await insertEmployer(t.db, code, e.type as 'agency', e.city);
        for (const r of ['R1', 'R2', 'R3']) await insertRoute(t.db, r, CITY.has(r));
        const w: World = { taps: [], bindings: [], employments: [], ratings: [], exclusions: [] };
        for (let m = 0; m < MEDIA.length; m++) {
          const o = g.owners[m]!;
          await insertBinding(t.db, {
            personId: persons[o.person]!,
            mediaType: 'transit_card',
            mediaKey: MEDIA[m]!,
            from: '2022-04-01T00:00:00+08:00',
            to: o.cut ? new Date(CUT).toISOString() : null,
          });
          w.bindings.push({
            person: o.person,
            media: MEDIA[m]!,
            from: Date.parse('2022-04-01T00:00:00+08:00'),
            to: o.cut ? CUT : Infinity,
          });
        }
        for (let p = 0; p < 3; p++) {
          const e = g.employment[p]!;
          if (e.from >= e.to) continue;
          await insertEmployment(t.db, persons[p]!, e.employer, e.from, e.to);
          w.employments.push({ person: p, employer: e.employer, from: e.from, toExcl: e.to });
        }
        const raw = g.chains.flatMap((c) => {
          let at = ANCHORS[c.anchor]! + c.offsetS * 1000;
          return [0, ...c.gapsS].map((gap, i) => {
            at += gap * 1000;
            return { at, vehicle: c.vehicles[i]!, route: c.route, media: c.media };
          });
        });
        const { tapIds } = await insertTapBatch(
          t.db,
          raw.map((r) => ({
            at: new Date(r.at),
            vehicleId: r.vehicle,
            routeId: r.route,
            mediaType: 'transit_card' as const,
            mediaKey: r.media,
          })),
        );
        raw.forEach((r, i) => w.taps.push({ id: tapIds[i]!, ...r }));
        const seen = new Set<number>();
        for (const r of g.ratings) {
          const tap = w.taps[r.tap % w.taps.length]!;
          const b = w.bindings.find((x) => x.media === tap.media && x.from <= tap.at && tap.at < x.to);
          if (!b || seen.has(tap.id)) continue;
          seen.add(tap.id);
          const ratedAt = tap.at + r.offsetH * HOUR;
          await insertRating(t.db, {
            personId: persons[b.person]!,
            tapId: tap.id,
            tapAt: new Date(tap.at),
            ratedAt: new Date(ratedAt),
          });
          w.ratings.push({ person: b.person, tapId: tap.id, ratedAt });
        }
        for (const e of g.exclusions) {
          const tap = e.tap === null ? null : w.taps[e.tap % w.taps.length]!;
          await insertExclusion(t.db, {
            personId: persons[e.person]!,
            period: e.period,
            ...(tap ? { tapId: tap.id } : {}),
          });
          if (e.revoked)
            await sql`UPDATE exclusions SET revoked_at = now(), revoked_by = 'test' WHERE id = (SELECT max(id) FROM exclusions)`.execute(
              t.db,
            );
          else w.exclusions.push({ person: e.person, period: e.period, tapId: tap?.id ?? null });
        }

        // the writing recompute stores the reference's rides of the period, and its counts
        const report = await recomputePeriod(t.db, g.period, { parallel: g.corrupt % 2 === 0 });
        const isYear = !g.period.includes('-Q');
        const inPeriod = (r: RefRide) => (isYear ? r.quarter.startsWith(g.period) : r.quarter === g.period);
        const ref = referenceRides(w, 3).filter(inPeriod);
        const key = (r: {
          person: number;
          first: number;
          tapIds: number[];
          eligible: boolean;
          rated: boolean;
          excluded: boolean;
        }) => `${r.person}:${r.first} [${r.tapIds.join(',')}] e=${r.eligible} r=${r.rated} x=${r.excluded}`;
        const { rows } = await sql<{
          person_id: string;
          first_tap_id: number;
          tap_ids: number[];
          quarter: string;
          eligible: boolean;
          rated: boolean;
          excluded: boolean;
          counted: boolean;
          rules_version: string;
        }>`SELECT person_id, first_tap_id, tap_ids, quarter, eligible, rated, excluded, counted, rules_version FROM rides`.execute(
          t.db,
        );
        const stored = rows
          .filter((r) => (isYear ? r.quarter.startsWith(g.period) : r.quarter === g.period))
          .map((r) => ({
            person: persons.indexOf(r.person_id),
            first: Number(r.first_tap_id),
            tapIds: r.tap_ids.map(Number),
            eligible: r.eligible,
            rated: r.rated,
            excluded: r.excluded,
          }));
        expect(stored.map(key).sort()).toEqual(ref.map(key).sort());
        for (const r of rows) {
          expect(r.counted).toBe(r.eligible && r.rated && !r.excluded);
          expect(r.rules_version).toBe(RULES[Number(r.quarter.slice(0, 4))]!.version);
        }
        expect(report.rides).toBe(ref.length);
        expect(report.taps).toBe(ref.reduce((n, r) => n + r.tapIds.length, 0));
        const want = new Map<string, number>();
        for (const r of ref) {
          if (!(r.eligible && r.rated && !r.excluded)) continue;
          for (const label of [r.quarter, r.quarter.slice(0, 4)])
            if (label === g.period || (isYear && label.startsWith(g.period)))
              want.set(`${r.person}:${label}`, (want.get(`${r.person}:${label}`) ?? 0) + 1);
        }
        const counts = await sql<{ person_id: string; period: string; rides: number }>`
          SELECT person_id, period, rides FROM person_period_counts WHERE rides > 0`.execute(t.db);
        expect(
          new Map(
            counts.rows
              .filter((r) => r.period === g.period || (isYear && r.period.startsWith(`${g.period}-`)))
              .map((r) => [`${persons.indexOf(r.person_id)}:${r.period}`, r.rides]),
          ),
        ).toEqual(want);

        // both paths then find nothing to change
        expect((await recomputePeriod(t.db, g.period, { check: true })).differences).toEqual([]);
        expect(
          (await recomputePeriod(t.db, g.period, { check: true, engineRides: true })).differences,
        ).toEqual([]);

        // a corrupted ride or count is found by both paths and repaired
        const victim = ref[g.corrupt % Math.max(1, ref.length)];
        if (victim) {
          // every column the recompute compares in place can be found wrong, and a count be wrong,
          // missing, or of another rules version (which --check does not compare: only repaired)
          const kind = g.corrupt % 9;
          const column = [
            null,
            null,
            null,
            sql`tap_ids = tap_ids || 0::bigint`,
            sql`route_id = route_id || 'x'`,
            sql`vehicle_id = vehicle_id || '\\'`,
            sql`rules_version = 'other'`,
          ][kind];
          if (kind === 0) await sql`DELETE FROM rides WHERE first_tap_id = ${victim.first}`.execute(t.db);
          else if (kind === 1)
            await sql`UPDATE rides SET rated = NOT rated, counted = NOT counted WHERE first_tap_id = ${victim.first}`.execute(
              t.db,
            );
          else if (kind === 2)
            await sql`UPDATE person_period_counts SET rides = rides + 1 WHERE person_id = ${persons[victim.person]!} AND period = ${victim.quarter}`.execute(
              t.db,
            );
          else if (kind === 7)
            await sql`DELETE FROM person_period_counts WHERE person_id = ${persons[victim.person]!} AND period = ${victim.quarter}`.execute(
              t.db,
            );
          else if (kind === 8)
            await sql`UPDATE person_period_counts SET rules_version = 'other' WHERE person_id = ${persons[victim.person]!}`.execute(
              t.db,
            );
          else await sql`UPDATE rides SET ${column!} WHERE first_tap_id = ${victim.first}`.execute(t.db);
          if (kind !== 8) {
            const c1 = await recomputePeriod(t.db, g.period, { check: true });
            const c2 = await recomputePeriod(t.db, g.period, { check: true, engineRides: true });
            expect(c1.differenceCount).toBeGreaterThan(0);
            expect(c2.differenceCount).toBeGreaterThan(0);
          }
          await recomputePeriod(t.db, g.period);
          const labels = isYear ? [g.period, ...[1, 2, 3, 4].map((q) => `${g.period}-Q${q}`)] : [g.period];
          const { rows: wrongVersion } = await sql<{ n: number }>`
            SELECT count(*)::int AS n FROM person_period_counts
            WHERE rules_version = 'other' AND period = ANY(${labels}::text[])`.execute(t.db);
          expect(wrongVersion[0]!.n).toBe(0);
          expect((await recomputePeriod(t.db, g.period, { check: true })).differences).toEqual([]);
          expect(
            (await recomputePeriod(t.db, g.period, { check: true, engineRides: true })).differences,
          ).toEqual([]);
        }
      }),
      { numRuns: Number(process.env.AGG_PROPERTY_RUNS ?? 25) },
    );
  }, 900_000);
});
