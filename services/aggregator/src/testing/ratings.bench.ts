/**
 * Ratings through the worker, one per transaction against coalesced, in one run:
 * `pnpm exec tsx services/aggregator/src/testing/ratings.bench.ts`.
 *
 * M persons (employed, one card each) ride twice a day; their days arrive as one tap batch a day,
 * applied one per transaction (the reference figure). Then rounds of N ratings (N / M per person,
 * on consecutive days' rides, rated the next day) are written with their outbox entries and drained
 * by the in-process runner (`startAggregator` in-process, the embedded mode's), timed from its start
 * until nothing is pending (`waitUntilIdle` looks every 50 ms).
 * Rounds alternate: A = one rating per transaction (coalesce limits 0, the path before coalescing),
 * B = coalesced (the runner's default limits), in the order A B B A; each round rates different rides.
 * Ends with `recompute --check` of the quarter and the year: 0 differences expected.
 * BENCH_DB=pglite runs on an in-memory PGlite (the embedded mode's database) instead of PostgreSQL.
 */
import { loadavg } from 'node:os';
import { countPendingOutbox, migrateToLatest, openDatabase, type Database } from '@ridetally/db';
import { createTestDatabase } from '@ridetally/db/testing';
import { createLogger } from '@ridetally/telemetry';
import { startAggregator } from '../aggregator';
import type { ProcessOptions } from '../processors/outbox.processor';
import { recomputePeriod } from '../recompute';
import {
  insertBinding,
  insertEmployer,
  insertEmployment,
  insertPerson,
  insertRating,
  insertRoute,
  insertTapBatch,
  type NewTap,
} from './fixtures';

const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const PERSONS = num('BENCH_PERSONS', 50);
const RATINGS = num('BENCH_RATINGS', 1000);
const ON_PGLITE = process.env.BENCH_DB === 'pglite';
const ROUNDS: ('A' | 'B')[] = ['A', 'B', 'B', 'A'];
const PER_PERSON = Math.ceil(RATINGS / PERSONS);
/** Two rides a day; each round rates PER_PERSON rides of each person. */
const DAYS = Math.ceil((PER_PERSON * ROUNDS.length) / 2) + 1;
const DAY = 86_400_000;
const START = Date.parse('2022-04-04T00:00:00+08:00');
const OPTIONS: Record<'A' | 'B', ProcessOptions> = {
  A: { coalesceTapBatches: 0, coalesceRatings: 0 },
  B: {},
};

const logger = createLogger({ service: 'ratings-bench', level: 'silent' });
const log = (s: string) => process.stdout.write(s + '\n');
const load = () => loadavg()[0]!.toFixed(1);

/** Starts the in-process aggregator (the embedded mode's runner) and times it until nothing is pending. */
async function drain(db: Database, options: ProcessOptions): Promise<number> {
  const t = performance.now();
  const aggregator = await startAggregator({ db, mode: 'in-process', logger, pollMs: 5, ...options });
  try {
    await aggregator.waitUntilIdle(600_000);
  } finally {
    await aggregator.close();
  }
  return performance.now() - t;
}

interface Ride {
  personId: string;
  tapId: number;
  at: number;
}

async function main(): Promise<void> {
  const test = ON_PGLITE ? undefined : await createTestDatabase(2);
  const handle = test ?? (await openDatabase({}));
  const db = handle.db;
  if (!test) await migrateToLatest(db);
  try {
    log(
      `ratings bench on ${ON_PGLITE ? 'PGlite (in memory)' : 'PostgreSQL'}: ${PERSONS} persons, ${RATINGS} ratings a round (${PER_PERSON} a person), ${DAYS} days of rides; load ${load()}`,
    );
    await insertEmployer(db, 'E1', 'agency', true);
    await insertRoute(db, 'R1', true);
    const persons: string[] = [];
    for (let p = 0; p < PERSONS; p++) {
      const personId = await insertPerson(db);
      persons.push(personId);
      await insertEmployment(db, personId, 'E1', '2022-04-01', null);
      await insertBinding(db, {
        personId,
        mediaType: 'transit_card',
        mediaKey: `C${p}`,
        from: '2022-04-01T00:00:00+08:00',
        to: null,
      });
    }
    // rides[day * 2 + k][p]: person p's k-th ride of the day
    const rides: Ride[][] = [];
    for (let d = 0; d < DAYS; d++) {
      const taps: NewTap[] = [];
      for (const k of [0, 1])
        for (let p = 0; p < PERSONS; p++)
          taps.push({
            at: new Date(START + d * DAY + (k === 0 ? 7.5 : 18) * 3_600_000 + p * 1000),
            vehicleId: `V${k}`,
            routeId: 'R1',
            mediaType: 'transit_card',
            mediaKey: `C${p}`,
          });
      const { tapIds } = await insertTapBatch(db, taps);
      for (const k of [0, 1])
        rides.push(
          persons.map((personId, p) => ({
            personId,
            tapId: tapIds[k * PERSONS + p]!,
            at: new Date(taps[k * PERSONS + p]!.at).getTime(),
          })),
        );
    }
    const loadTaps = load();
    const batches = await countPendingOutbox(db);
    const tapMs = await drain(db, OPTIONS.A);
    log(
      `tap batches (${PERSONS * 2} taps each), one per transaction: ${batches} in ${(tapMs / 1000).toFixed(2)} s = ${(tapMs / batches).toFixed(1)} ms a batch (load ${loadTaps} → ${load()})`,
    );

    const per: Record<'A' | 'B', { ms: number; ratings: number }> = {
      A: { ms: 0, ratings: 0 },
      B: { ms: 0, ratings: 0 },
    };
    for (const [r, mode] of ROUNDS.entries()) {
      let n = 0;
      for (let i = 0; i < PER_PERSON && n < RATINGS; i++) {
        for (const ride of rides[r * PER_PERSON + i]!) {
          if (n++ >= RATINGS) break;
          await insertRating(db, {
            personId: ride.personId,
            tapId: ride.tapId,
            tapAt: new Date(ride.at),
            ratedAt: new Date(ride.at + DAY),
          });
        }
      }
      const ratings = await countPendingOutbox(db);
      const before = load();
      const ms = await drain(db, OPTIONS[mode]);
      per[mode].ms += ms;
      per[mode].ratings += ratings;
      log(
        `round ${r + 1} (${mode === 'A' ? 'one rating per transaction' : 'coalesced'}): ${ratings} ratings in ${(ms / 1000).toFixed(2)} s = ${((ratings * 1000) / ms).toFixed(0)} ratings/s (load ${before} → ${load()})`,
      );
    }
    const rate = (m: 'A' | 'B') => (per[m].ratings * 1000) / per[m].ms;
    log(
      `one rating per transaction: ${rate('A').toFixed(0)} ratings/s = ${(per.A.ms / per.A.ratings).toFixed(1)} ms a rating; coalesced: ${rate('B').toFixed(0)} ratings/s = ${(per.B.ms / per.B.ratings).toFixed(1)} ms a rating; ratio ${(rate('B') / rate('A')).toFixed(1)}×; a tap batch of ${PERSONS * 2} taps = ${(tapMs / batches / (per.A.ms / per.A.ratings)).toFixed(1)} uncoalesced ratings`,
    );
    for (const period of ['2022-Q2', '2022']) {
      const check = await recomputePeriod(db, period, { check: true });
      log(`recompute --check ${period}: ${check.differences.length} differences`);
      if (check.differences.length > 0) process.exitCode = 1;
    }
  } finally {
    if (test) await test.drop();
    else await handle.close();
  }
}

await main();
