/**
 * Coalesced ratings: many ratings of a few persons, mixed with a tap batch, arrive together and are
 * applied in one transaction (one re-derivation per person). The counts equal the ones known from
 * the world's construction and a full recompute; running every entry again changes nothing; two
 * workers draining the same entries concurrently, in opposite orders, reach the same counts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { countPendingOutbox, findPendingOutboxIds, sql, type Database } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { processOutboxEntry } from './processors/outbox.processor';
import { recomputePeriod } from './recompute';
import {
  insertBinding,
  insertEmployer,
  insertEmployment,
  insertPerson,
  insertRating,
  insertRoute,
  insertTapBatch,
  type NewTap,
} from './testing/fixtures';

const DAY = 86_400_000;
const DAYS = 20;
/** 2022-05-02 00:00 Asia/Shanghai. */
const START = Date.parse('2022-05-02T00:00:00+08:00');

interface World {
  persons: string[];
  /** Counted rides each person should end with in 2022-Q2 (= 2022). */
  expected: number[];
  /** Ratings by a person who did not take the ride. */
  ratingsWithoutRide: number[];
}

interface Ride {
  person: number;
  tapIds: number[];
  at: number;
  city: boolean;
}

/** A morning ride (double tap, city route) and an evening ride (city route, but non-city for person 2). */
function ridesOfDay(day: number, persons: number[]): (NewTap & { person: number; ride: number })[] {
  return persons.flatMap((p) => {
    const morning = START + day * DAY + 7.5 * 3_600_000 + p * 60_000;
    const evening = START + day * DAY + 18 * 3_600_000 + p * 60_000;
    const card = `C${p}`;
    return [
      {
        person: p,
        ride: 0,
        at: new Date(morning),
        vehicleId: 'V1',
        routeId: 'R1',
        mediaType: 'transit_card' as const,
        mediaKey: card,
      },
      {
        person: p,
        ride: 0,
        at: new Date(morning + 20_000),
        vehicleId: 'V1',
        routeId: 'R1',
        mediaType: 'transit_card' as const,
        mediaKey: card,
      },
      {
        person: p,
        ride: 1,
        at: new Date(evening),
        vehicleId: 'V2',
        routeId: p === 2 ? 'R2' : 'R1',
        mediaType: 'transit_card' as const,
        mediaKey: card,
      },
    ];
  });
}

async function insertDay(db: Database, day: number, persons: number[]): Promise<Ride[]> {
  const taps = ridesOfDay(day, persons);
  const { tapIds } = await insertTapBatch(db, taps);
  const rides = new Map<string, Ride>();
  taps.forEach((t, i) => {
    const k = `${t.person}:${t.ride}`;
    const r = rides.get(k) ?? {
      person: t.person,
      tapIds: [],
      at: new Date(t.at).getTime(),
      city: t.routeId === 'R1',
    };
    r.tapIds.push(tapIds[i]!);
    rides.set(k, r);
  });
  return [...rides.values()];
}

/**
 * Three persons ride for 20 days (batches applied as they come); then a 21st day's batch and ~110
 * ratings arrive at once: most in the 7-day window, every seventh late, one by a person who did not
 * take the ride (every eleventh). Nothing of the second part is applied yet.
 */
async function buildWorld(db: Database): Promise<World> {
  await insertEmployer(db, 'E1', 'agency', true);
  await insertRoute(db, 'R1', true);
  await insertRoute(db, 'R2', false);
  const persons = [await insertPerson(db), await insertPerson(db), await insertPerson(db)];
  for (const [p, personId] of persons.entries()) {
    await insertEmployment(db, personId, 'E1', '2022-04-01', null);
    await insertBinding(db, {
      personId,
      mediaType: 'transit_card',
      mediaKey: `C${p}`,
      from: '2022-04-01T00:00:00+08:00',
      to: null,
    });
  }
  const rides: Ride[] = [];
  for (let d = 0; d < DAYS; d++) {
    rides.push(...(await insertDay(db, d, [0, 1, 2])));
    for (const id of await findPendingOutboxIds(db, 10)) await processOutboxEntry(db, id);
  }
  rides.push(...(await insertDay(db, DAYS, [0, 1])));
  const expected = [0, 0, 0];
  let n = 0;
  const ratingsWithoutRide: number[] = [];
  for (const ride of rides) {
    n++;
    if (n % 11 === 0) {
      // rated by someone else: no ride of theirs holds the tap
      const rater = (ride.person + 1) % 3;
      ratingsWithoutRide.push(
        await insertRating(db, {
          personId: persons[rater]!,
          tapId: ride.tapIds[0]!,
          tapAt: new Date(ride.at),
          ratedAt: new Date(ride.at + DAY),
        }),
      );
      continue;
    }
    const late = n % 7 === 0;
    // the second tap of a double tap names the same ride
    const tapId = ride.tapIds.at(-1)!;
    await insertRating(db, {
      personId: persons[ride.person]!,
      tapId,
      tapAt: new Date(ride.at + (ride.tapIds.length - 1) * 20_000),
      ratedAt: new Date(ride.at + (late ? 8 * DAY : DAY)),
    });
    if (!late && ride.city) expected[ride.person]!++;
  }
  return { persons, expected, ratingsWithoutRide };
}

async function countsOf(db: Database, persons: string[], period: string): Promise<number[]> {
  const { rows } = await sql<{ person_id: string; rides: number }>`
    SELECT person_id, rides FROM person_period_counts WHERE period = ${period}`.execute(db);
  const by = new Map(rows.map((r) => [r.person_id, r.rides]));
  return persons.map((p) => by.get(p) ?? 0);
}

async function expectConsistent(db: Database, w: World): Promise<void> {
  expect(await countPendingOutbox(db)).toBe(0);
  expect(await countsOf(db, w.persons, '2022-Q2')).toEqual(w.expected);
  expect(await countsOf(db, w.persons, '2022')).toEqual(w.expected);
  for (const period of ['2022-Q2', '2022']) {
    const check = await recomputePeriod(db, period, { check: true });
    expect(check.differences).toEqual([]);
  }
  const { rows } = await sql<{ key: string }>`
    SELECT key FROM anomalies WHERE kind = 'rating_without_ride'`.execute(db);
  expect(rows.map((r) => r.key).sort()).toEqual(w.ratingsWithoutRide.map((id) => `rating:${id}`).sort());
}

/** Every stored derivation, as one comparable value. */
async function derived(db: Database): Promise<unknown> {
  const { rows } = await sql`
    SELECT (SELECT json_agg(x ORDER BY person_id, first_tap_id) FROM rides x) AS rides,
           (SELECT json_agg(c ORDER BY person_id, period) FROM (SELECT person_id, period, rides FROM person_period_counts) c) AS counts,
           (SELECT json_agg(v ORDER BY service_date, route_id) FROM (SELECT service_date, route_id, boardings, taps FROM volume_daily) v) AS volume,
           (SELECT json_agg(a ORDER BY kind, key) FROM (SELECT kind, key, details FROM anomalies) a) AS anomalies`.execute(
    db,
  );
  return rows[0];
}

describe('coalesced ratings', () => {
  const dbs: TestDatabase[] = [];
  afterAll(async () => {
    for (const t of dbs) await t.drop();
  });

  it('applies a tap batch and many ratings of a few persons in one transaction, as a recompute would', async () => {
    const t = await createTestDatabase();
    dbs.push(t);
    const w = await buildWorld(t.db);
    expect(w.expected.every((n) => n > 5)).toBe(true);
    const pending = await findPendingOutboxIds(t.db, 1000);
    expect(pending.length).toBeGreaterThan(100);
    // the job of a rating in the middle takes the batch and every other rating with it
    const result = await processOutboxEntry(t.db, pending[50]!, {
      coalesceTapBatches: 9,
      coalesceRatings: 1000,
    });
    expect(result.status).toBe('processed');
    expect(result.topic).toBe('rating');
    expect(result.createdAt).toHaveLength(pending.length);
    expect([...result.applied].sort((a, b) => a - b)).toEqual(pending);
    await expectConsistent(t.db, w);

    // every job run again (a retry, a flushed Redis re-enqueued by the reconciler) changes nothing
    const before = await derived(t.db);
    for (const id of pending) {
      expect((await processOutboxEntry(t.db, id, { coalesceRatings: 1000 })).status).toBe(
        'already-processed',
      );
    }
    expect(await derived(t.db)).toEqual(before);
    // nor does re-announcing every rating (a new entry per rating, applied coalesced)
    await sql`INSERT INTO outbox (topic, payload) SELECT 'rating', jsonb_build_object('ratingId', rating_id) FROM ratings`.execute(
      t.db,
    );
    const again = await findPendingOutboxIds(t.db, 1000);
    await processOutboxEntry(t.db, again[0]!, { coalesceRatings: 1000 });
    expect(await derived(t.db)).toEqual(before);
  });

  it('gives the same counts with two workers draining the same entries concurrently', async () => {
    const t = await createTestDatabase();
    dbs.push(t);
    const w = await buildWorld(t.db);
    const ids = await findPendingOutboxIds(t.db, 1000);
    const drain = async (order: number[], coalesceRatings: number) => {
      let applied = 0;
      for (const id of order) {
        const r = await processOutboxEntry(t.db, id, { coalesceTapBatches: 1, coalesceRatings });
        applied += r.applied.length;
      }
      return applied;
    };
    const [a, b] = await Promise.all([drain(ids, 7), drain([...ids].reverse(), 3)]);
    // each entry applied exactly once in all
    expect(a + b).toBe(ids.length);
    await expectConsistent(t.db, w);
  });
});
