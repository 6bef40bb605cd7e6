/**
 * Full recompute of a period from raw data (issue 4 §4): nothing stored is trusted. `check` compares
 * without writing and lists the differences.
 *
 * It runs the worker's own rules (`planRegroup`, `judgeRides` of `@ridetally/domain`, in `raw` mode:
 * every tap that starts a group regardless is a reset point) on data loaded in bulk: per chunk of
 * persons, one stream of their taps over the period and a day either side, one of their ratings, one
 * of their stored rides (and counts, when checking), each with COPY on PostgreSQL
 * (`withBulkTransaction`); R14 per hash slice of the media, one ordered stream of taps with their
 * stored judgements. Only what differs is written back (COPY into a temporary table, one upsert). A
 * person or a (medium, vehicle) key whose groups may reach beyond the loaded day goes through the
 * engine (`rederive.ts`), which widens its window. The rides and volume phases run side by side on
 * two connections (PGlite serialises them).
 */
import { getHeapStatistics } from 'node:v8';
import {
  analyzeRecomputedTables,
  countTapsIn,
  deleteRides,
  findCityRouteIds,
  findEmploymentFacts,
  findExclusionFacts,
  findPersonsActiveIn,
  findVolumeDaily,
  lockPersonBuckets,
  lockVolumeRecompute,
  poolOf,
  readOneSnapshot,
  rebuildVolumeDaily,
  recordAnomalies,
  refreshPersonPeriodCounts,
  setRecomputePersons,
  streamPersonsCounts,
  streamPersonsRatings,
  streamPersonsStoredRides,
  streamPersonsTaps,
  streamStoredJudgements,
  streamVolumeSlice,
  sumBoardingsByDay,
  tuneRecomputeSession,
  writeRides,
  withBulkTransaction,
  writeBoardingChanges,
  writeVolumeDaily,
  type BoardingChange,
  type BulkSession,
  type Database,
  type NewAnomaly,
  type RideRow,
  type StoredJudgementSource,
  type StoredRideCursor,
  type VolumeDailyRow,
  type VolumeKeyRange,
} from '@ridetally/db';
import {
  countDerivedRides,
  formatPeriod,
  isQuarterInPeriod,
  parsePeriod,
  periodBounds,
  planRegroup,
  quartersOf,
  shanghaiDateOfMs,
  type RatingsByTap,
  type RideTap,
} from '@ridetally/domain';
import {
  maxRidesPerDay,
  personJudge,
  recordBusyDays,
  rederivePersons,
  rederiveVolume,
  type JudgedPersons,
} from './rederive';
import { loadRuleBook } from './rules';

export interface RecomputeOptions {
  check?: boolean;
  onProgress?: (done: number, total: number) => void;
  /** Persons per rides transaction (default: sized so that a chunk holds what the heap allows, `TAPS_PER_PART`). */
  personChunk?: number;
  /** Run the rides and volume phases side by side (two connections; PGlite serialises them anyway). */
  parallel?: boolean;
  /** Force the engine (its own loads, window widened step by step) for the rides phase: the reference path, for tests. */
  engineRides?: boolean;
  /** Hash slices the volume scan is cut into (memory per slice ≈ taps / slices). */
  volumeSlices?: number;
}

export interface RecomputeReport {
  period: string;
  persons: number;
  taps: number;
  rides: number;
  volumeKeys: number;
  /** Human-readable differences (check mode), at most 100 kept; `differenceCount` has them all. */
  differences: string[];
  differenceCount: number;
  /** Wall time of the phases, seconds. */
  seconds: { rides: number; volume: number };
}

const DAY = 86_400_000;
/** Taps loaded around the period (a person or key whose groups reach further goes through the engine). */
const MARGIN = DAY;
/**
 * Heap budgeted per loaded tap of a rides chunk or a volume slice. A chunk holds its derived rides, a
 * slice the judgements that differ (all of them when nothing was judged before); a recompute from
 * nothing of 2 M taps in one chunk and one slice peaked at ~450 bytes a tap.
 */
const HEAP_BYTES_PER_TAP = 1_000;
/**
 * Taps per rides chunk and per volume slice: as many as the heap holds at HEAP_BYTES_PER_TAP (4.3 M
 * with Node's default limit on a 24 GB machine, 450,000 under `--max-old-space-size=384`). Fewer parts
 * are faster: each chunk reads the chunk's ratings and rides by a scan of the period, each slice scans
 * the period's taps (2 M taps: 8.5–8.9 s in one part of each, 10.6–11.1 s in three chunks and two
 * slices, same run).
 */
const TAPS_PER_PART = Math.max(250_000, Math.floor(getHeapStatistics().heap_size_limit / HEAP_BYTES_PER_TAP));
/** The same on PGlite (embedded), where a stream is one query result held whole (~300 bytes a row). */
const TAPS_PER_PART_EMBEDDED = 1_000_000;

/** Rows rewritten from which the recompute refreshes the planner's statistics of what it wrote. */
const ANALYZE_AFTER_ROWS = 10_000;

const ALL_STARTS: ReadonlySet<number> = { has: () => true } as unknown as ReadonlySet<number>;

/** A difference: its text, or a function making it (only the first 100 texts are made). */
type Difference = string | (() => string);

/** A difference collector: the first 100 texts and the count of all. */
function collector() {
  const c = { count: 0, list: [] as string[] };
  return Object.assign(c, {
    differ: (d: Difference) => {
      c.count++;
      if (c.list.length < 100) c.list.push(typeof d === 'string' ? d : d());
    },
  });
}

export async function recomputePeriod(
  db: Database,
  periodText: string,
  options: RecomputeOptions = {},
): Promise<RecomputeReport> {
  const period = parsePeriod(periodText);
  const label = formatPeriod(period);
  const b = periodBounds(period);
  const start = b.start.toMillis();
  const end = b.end.toMillis();
  const quarters = quartersOf(period).map(formatPeriod);
  const labels = period.kind === 'year' ? [label, ...quarters] : [label];
  const rules = await loadRuleBook(db);
  const cityRoutes = new Set(await findCityRouteIds(db));
  const check = options.check ?? false;
  const opts = { rules, cityRoutes, mode: 'raw' as const, dryRun: check };
  const loadedFromMs = start - MARGIN;
  const loadedToMs = end + MARGIN;
  const [persons, loadedTaps] = await Promise.all([
    findPersonsActiveIn(db, start, end, labels),
    countTapsIn(db, loadedFromMs, loadedToMs),
  ]);
  const part = poolOf(db) ? TAPS_PER_PART : TAPS_PER_PART_EMBEDDED;
  const personChunk =
    options.personChunk ?? Math.max(200, Math.floor((persons.length * part) / Math.max(1, loadedTaps)));
  const slices = options.volumeSlices ?? Math.max(1, Math.ceil(loadedTaps / part));
  const total = persons.length + slices;
  const report: RecomputeReport = {
    period: label,
    persons: persons.length,
    taps: 0,
    rides: 0,
    volumeKeys: 0,
    differences: [],
    differenceCount: 0,
    seconds: { rides: 0, volume: 0 },
  };
  // Each phase collects its own differences (the phases may run side by side); rides come first.
  const rideDiffs = collector();
  const volumeDiffs = collector();
  let done = 0;
  const progress = (n: number) => {
    done += n;
    options.onProgress?.(done, total);
  };
  const inPeriod = (r: RideRow) => r.atMs >= start && r.atMs < end;
  /** Rides and judgements written (deleted, inserted or changed). */
  let written = 0;

  /** Check mode: the chunk's derived rides of the period against the stored ones, and their counts. */
  const compare = async (s: BulkSession, chunk: readonly string[], derived: readonly RideRow[]) => {
    const mine = new Set(chunk);
    const { changed, gone } = await matchStored(
      (fn) => streamPersonsStoredRides(s, start, end, fn),
      derived,
      (_c, personId) => mine.has(personId),
    );
    const storedCounts = new Map<string, string>();
    await streamPersonsCounts(s, labels, (personId, p, rides, lastMs) =>
      storedCounts.set(`${personId}:${p}`, `${rides}/${lastMs ?? '-'}`),
    );
    diffRides(chunk, labels, derived, changed, gone, storedCounts, rideDiffs.differ);
  };

  /** The engine (its own loads, window widened step by step) for some persons, in the chunk's transaction. */
  const engineRides = async (s: BulkSession, chunk: string[]): Promise<void> => {
    const result = await rederivePersons(
      s.db,
      chunk.map((personId) => ({ personId, fromMs: start, toMs: end - 1 })),
      opts,
    );
    const derived = result.rides.filter(inPeriod);
    report.rides += derived.length;
    report.taps += derived.reduce((n, r) => n + r.tapIds.length, 0);
    if (check) {
      await setRecomputePersons(s, chunk);
      await compare(s, chunk, derived);
    } else {
      await refreshPersonPeriodCounts(
        s.db,
        chunk.flatMap((personId) => quarters.map((quarter) => ({ personId, quarter }))),
      );
    }
  };

  /** One chunk of persons in bulk: load, plan and judge with the domain rules, write or compare. */
  const bulkRides = async (s: BulkSession, chunk: string[]): Promise<void> => {
    // Each person is planned and judged as soon as their taps have streamed past (their taps and groups
    // die young), with their ratings, a few typed arrays per person.
    const ratings = new Map<string, TapRatings>();
    const readRatings = async (r: BulkSession) => {
      const pairs = new Map<string, number[]>();
      await streamPersonsRatings(r, loadedFromMs, (personId, tapId, ratedAtMs) => {
        let list = pairs.get(personId);
        if (!list) pairs.set(personId, (list = []));
        list.push(tapId, ratedAtMs);
      });
      for (const [personId, list] of pairs) ratings.set(personId, new TapRatings(list));
    };
    const judge = personJudge(
      {
        employments: await findEmploymentFacts(s.db, 'rc_persons'),
        exclusions: await findExclusionFacts(s.db, 'rc_persons'),
        ratings: [],
      },
      opts,
    );
    const judged: JudgedPersons = { rides: [], stretches: [], anomalies: [] };
    const readyIds: string[] = [];
    const uncertain: string[] = [];
    const planned = new Set<string>();
    const plan = (personId: string, taps: RideTap[]) => {
      planned.add(personId);
      const p = planRegroup<RideTap>({
        taps,
        loadedFromMs,
        loadedToMs,
        changedFromMs: start,
        changedToMs: end - 1,
        storedStarts: ALL_STARTS,
        windowSeconds: rules.rideGroupSeconds,
      });
      if (p.kind === 'ready') {
        readyIds.push(personId);
        judge(
          { personId, deleteFrom: p.deleteFrom, deleteTo: p.deleteTo, groups: p.groups },
          judged,
          ratings.get(personId) ?? NO_RATINGS,
        );
      } else uncertain.push(personId);
    };
    // Persons whose taps have come before the ratings were all read wait for them, in order.
    let waiting: [string, RideTap[]][] | undefined = [];
    const taken = (personId: string, taps: RideTap[]) => {
      if (waiting) waiting.push([personId, taps]);
      else plan(personId, taps);
    };
    const ratingsRead = () => {
      const w = waiting!;
      waiting = undefined;
      for (const [personId, taps] of w) plan(personId, taps);
    };
    let current: RideTap[] = [];
    let currentPerson = '';
    const streamTaps = () =>
      streamPersonsTaps(s, loadedFromMs, loadedToMs, (personId, tapId, at, vehicleId, routeId) => {
        if (personId !== currentPerson) {
          if (current.length > 0) taken(currentPerson, current);
          currentPerson = personId;
          current = [];
        }
        current.push({ tapId, at, vehicleId, routeId });
      });
    // A connection more than the two phases hold (with fewer, this one's would wait for the volume
    // phase to end, or, alone, for itself).
    if (options.parallel !== false && (poolOf(db)?.options.max ?? 0) >= 3) {
      // The ratings on a connection of their own while PostgreSQL joins and sorts the taps (the
      // bench's default year: ~1 s of ratings against ~1.8 s before the first tap). They need no lock:
      // ratings come in regardless of it, as they would between two statements of this transaction.
      const both = await Promise.allSettled([
        withBulkTransaction(db, async (r) => {
          await setRecomputePersons(r, chunk);
          await readRatings(r);
        }).then(ratingsRead),
        streamTaps(),
      ]);
      for (const x of both) if (x.status === 'rejected') throw x.reason;
    } else {
      await readRatings(s);
      ratingsRead();
      await streamTaps();
    }
    if (current.length > 0) taken(currentPerson, current);
    // The chunk's persons without a tap in the loaded window: their stored rides, if any, must go.
    for (const personId of chunk) if (!planned.has(personId)) plan(personId, []);
    const derived = judged.rides.filter(inPeriod);
    report.rides += derived.length;
    report.taps += derived.reduce((n, r) => n + r.tapIds.length, 0);
    if (check) {
      await compare(s, readyIds, derived);
    } else {
      // Stored rides of each person's regrouped stretch: [deleteFrom, deleteTo) in (time, first tap) order.
      const bounds = new Map(judged.stretches.map((st) => [st.personId, st]));
      const { changed, gone } = await matchStored(
        (fn) => streamPersonsStoredRides(s, loadedFromMs, loadedToMs, fn),
        judged.rides,
        (c, personId) => {
          const st = bounds.get(personId);
          if (!st) return false;
          const at = c.atMs();
          if (st.lower && (at < st.lower.atMs || (at === st.lower.atMs && c.firstTapId() < st.lower.tapId)))
            return false;
          return !(
            st.upper &&
            (at > st.upper.atMs || (at === st.upper.atMs && c.firstTapId() >= st.upper.tapId))
          );
        },
      );
      written += gone.length + changed.length;
      const touched = [
        ...(await deleteRides(s.db, gone)),
        ...(await writeRides(
          s,
          changed.map((x) => x.r),
          changed.flatMap((x) => (x.old ? [x.old] : [])),
        )),
      ];
      // Every count of the period is checked against the derived rides (nothing stored is trusted): a
      // person's counts are rebuilt from their rides where one differs, as where their rides changed.
      const stale = await findStaleCounts(s, readyIds, labels, derived);
      await refreshPersonPeriodCounts(s.db, [
        ...touched,
        ...stale.flatMap((personId) => quarters.map((quarter) => ({ personId, quarter }))),
      ]);
      await recordAnomalies(s.db, judged.anomalies);
      // R13 busy days: the period's days from the derived rides (each of those days is derived whole);
      // a day outside the period is only partly derived, so its rides are counted in the database.
      const busy = busyDaysOf(derived, maxRidesPerDay(rules));
      if (busy) await recordAnomalies(s.db, busy);
      await recordBusyDays(s.db, busy ? judged.rides.filter((r) => !inPeriod(r)) : judged.rides, rules);
    }
    // Persons whose groups may reach beyond the loaded window: the engine widens its window.
    if (uncertain.length > 0) await engineRides(s, uncertain);
  };

  const ridesPhase = async (): Promise<void> => {
    const t0 = performance.now();
    for (let i = 0; i < persons.length; i += personChunk) {
      const chunk = persons.slice(i, i + personChunk);
      await withBulkTransaction(db, async (s) => {
        await setRecomputePersons(s, chunk);
        await lockPersonBuckets(s.db, 'rc_persons');
        await tuneRecomputeSession(s);
        if (options.engineRides) await engineRides(s, chunk);
        else await bulkRides(s, chunk);
      });
      progress(chunk.length);
    }
    report.seconds.rides = (performance.now() - t0) / 1000;
  };

  const volumePhase = async (): Promise<void> => {
    const differ = volumeDiffs.differ;
    const t1 = performance.now();
    let maxAt = end;
    // One slice (one transaction) and no key left to the engine: volume_daily is checked against the
    // day sums of the judgements on the stream, in the slice's transaction, instead of by summing
    // tap_boardings again afterwards (which took as long as a tenth of the recompute).
    const sums = slices === 1 ? new DaySums(start, loadedToMs) : undefined;
    let settled = false;
    for (let slice = 0; slice < slices; slice++) {
      await withBulkTransaction(db, async (s) => {
        // Checking takes no lock: one snapshot for the judgements and the taps read apart below
        // (writing, the lock keeps the workers' judgements out, and must come before the snapshot).
        if (check) await readOneSnapshot(s);
        else await lockVolumeRecompute(s.db, true);
        await tuneRecomputeSession(s);
        // Only judgements that differ from the stored ones become changes (none, on a consistent database).
        const changes: BoardingChange[] = [];
        const fallback: VolumeKeyRange[] = [];
        let keys = 0;
        let list: (RideTap & { stored: boolean | null })[] = [];
        let keyType = '';
        let keyMedium = '';
        let keyVehicle = '';
        const w = rules.volumeRepeatSeconds * 1000;
        const record = (
          tapId: number,
          at: number,
          routeId: string,
          boarding: boolean,
          stored: boolean | null,
        ) => {
          if (at > maxAt) maxAt = at;
          if (stored === boarding) return;
          if (sums && !check) {
            // The sums become those of the judgements as written.
            if (stored !== null) sums.add(at, routeId, stored, -1);
            sums.add(at, routeId, boarding, 1);
          }
          changes.push({
            tapId,
            atMs: at,
            routeId,
            serviceDate: shanghaiDateOfMs(at),
            boarding,
            previous: stored,
          });
        };
        // The key's first tap is held in variables; a list is made only when a second one comes.
        let firstId = 0;
        let firstAt = 0;
        let firstRoute = '';
        let firstStored: boolean | null = null;
        let count = 0;
        /** The key goes to the engine, which widens its window. */
        const widen = () =>
          fallback.push({
            mediaType: keyType,
            mediaKey: keyMedium,
            vehicleId: keyVehicle,
            fromMs: start,
            toMs: end - 1,
          });
        const judge = (): void => {
          if (count === 0) return;
          keys++;
          if (count === 1 && w <= MARGIN) {
            // What `planRegroup` answers for a key with one loaded tap (raw mode, period [start, end),
            // loaded a margin of at least a window either side): a tap from the period's end on is
            // the next period's; a tap in the period, or before it but at least a window after the
            // loaded start, is a group of its own (a boarding); an earlier one needs a wider window.
            if (firstAt >= end) return;
            if (firstAt >= start || firstAt - loadedFromMs >= w)
              record(firstId, firstAt, firstRoute, true, firstStored);
            else widen();
            return;
          }
          const plan = planRegroup({
            taps: list,
            loadedFromMs,
            loadedToMs,
            changedFromMs: start,
            changedToMs: end - 1,
            storedStarts: ALL_STARTS,
            windowSeconds: rules.volumeRepeatSeconds,
          });
          if (plan.kind !== 'ready') {
            widen();
            return;
          }
          for (const g of plan.groups) {
            const taps = g.taps;
            for (let k = 0; k < taps.length; k++) {
              const t = taps[k]!;
              record(t.tapId, t.at, t.routeId, k === 0, t.stored);
            }
          }
        };
        await streamVolumeSlice(
          s,
          loadedFromMs,
          loadedToMs,
          slice,
          slices,
          await readStoredJudgements(s, loadedFromMs, loadedToMs),
          (type, medium, vehicle, tapId, at, routeId, stored) => {
            if (sums && stored !== null) sums.add(at, routeId, stored, 1);
            if (count === 0 || vehicle !== keyVehicle || medium !== keyMedium || type !== keyType) {
              judge();
              keyType = type;
              keyMedium = medium;
              keyVehicle = vehicle;
              firstId = tapId;
              firstAt = at;
              firstRoute = routeId;
              firstStored = stored;
              count = 1;
              return;
            }
            // The key is the (medium, vehicle): within it every tap is "on the same vehicle".
            if (count === 1)
              list = [
                { tapId: firstId, at: firstAt, vehicleId: '', routeId: firstRoute, stored: firstStored },
              ];
            list.push({ tapId, at, vehicleId: '', routeId, stored });
            count++;
          },
        );
        judge();
        report.volumeKeys += keys;
        if (!check) {
          await writeBoardingChanges(s, changes);
          written += changes.length;
        }
        if (fallback.length > 0) {
          // Keys with no reset point within a day of the period: the engine widens their window (and writes, unless checking).
          const v = await rederiveVolume(s.db, fallback, opts);
          changes.push(...v.changes);
          maxAt = Math.max(maxAt, v.maxAtMs);
        }
        if (check) {
          // Differences in the order of the keys, then the widened keys'.
          for (const c of changes) {
            if (c.previous !== c.boarding)
              differ(
                () =>
                  `volume: tap ${c.tapId} judged ${c.boarding ? 'boarding' : 'repeat'}, stored ${c.previous === null ? 'missing' : c.previous ? 'boarding' : 'repeat'}`,
              );
          }
        }
        if (sums && fallback.length === 0) {
          const toDate = shanghaiDateOfMs(maxAt + DAY);
          await settleVolumeDaily(s.db, sums.rows(toDate), shanghaiDateOfMs(start), toDate);
          settled = true;
        }
      });
      progress(1);
    }
    if (!settled) {
      const fromDate = shanghaiDateOfMs(start);
      const toDate = shanghaiDateOfMs(maxAt + DAY);
      if (check) {
        await settleVolumeDaily(db, await sumBoardingsByDay(db, fromDate, toDate), fromDate, toDate);
      } else {
        await db.transaction().execute(async (tx) => {
          await lockVolumeRecompute(tx, true);
          await rebuildVolumeDaily(tx, fromDate, toDate);
        });
      }
    }
    report.seconds.volume = (performance.now() - t1) / 1000;
  };

  /**
   * volume_daily of Shanghai dates [fromDate, toDate) against the day sums `want`: checking lists the
   * rows that differ (as stored, then as recomputed), otherwise those rows are written.
   */
  const settleVolumeDaily = async (
    conn: Database,
    want: readonly VolumeDailyRow[],
    fromDate: string,
    toDate: string,
  ): Promise<void> => {
    const stored = await findVolumeDaily(conn, fromDate, toDate);
    const key = (r: VolumeDailyRow) =>
      `${r.serviceDate} ${r.routeId} boardings=${r.boardings} taps=${r.taps}`;
    const a = new Set(stored.map(key));
    const b = new Set(want.map(key));
    if (check) {
      for (const k of a) if (!b.has(k)) volumeDiffs.differ(`volume_daily stored ${k} (recomputed differs)`);
      for (const k of b) if (!a.has(k)) volumeDiffs.differ(`volume_daily recomputed ${k} (stored differs)`);
      return;
    }
    const place = (r: { serviceDate: string; routeId: string }) => `${r.serviceDate} ${r.routeId}`;
    const wanted = new Set(want.map(place));
    await writeVolumeDaily(
      conn,
      want.filter((r) => !a.has(key(r))),
      stored.filter((r) => !wanted.has(place(r))),
    );
  };

  if (options.parallel ?? true) {
    const settled = await Promise.allSettled([ridesPhase(), volumePhase()]);
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
  } else {
    await ridesPhase();
    await volumePhase();
  }
  // Many rows rewritten (a period never counted, or rules changed): the planner's statistics of the
  // tables are refreshed now rather than when autovacuum gets to them, so that what runs next (the
  // worker, exports, a check) is planned on the new figures.
  if (written >= ANALYZE_AFTER_ROWS) await analyzeRecomputedTables(db);
  report.differences = [...rideDiffs.list, ...volumeDiffs.list].slice(0, 100);
  report.differenceCount = rideDiffs.count + volumeDiffs.count;
  return report;
}

/**
 * One person's ratings by rated tap in two typed arrays sorted by tap: a few objects for the garbage
 * collector to trace per person, not an array per rated tap (a chunk holds hundreds of thousands).
 */
class TapRatings implements RatingsByTap {
  private readonly taps: Float64Array;
  private readonly times: Float64Array;

  /** From (tap id, rating time) pairs, flattened. */
  constructor(pairs: readonly number[]) {
    const n = pairs.length / 2;
    const order = Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => pairs[2 * a]! - pairs[2 * b]! || pairs[2 * a + 1]! - pairs[2 * b + 1]!,
    );
    this.taps = new Float64Array(n);
    this.times = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      this.taps[k] = pairs[2 * order[k]!]!;
      this.times[k] = pairs[2 * order[k]! + 1]!;
    }
  }

  get(tapId: number): ArrayLike<number> | undefined {
    const taps = this.taps;
    let lo = 0;
    let hi = taps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (taps[mid]! < tapId) lo = mid + 1;
      else hi = mid;
    }
    if (lo === taps.length || taps[lo] !== tapId) return undefined;
    let end = lo + 1;
    while (end < taps.length && taps[end] === tapId) end++;
    return this.times.subarray(lo, end);
  }
}

const NO_RATINGS = new TapRatings([]);

/**
 * Tap ids of the judgements table above which the volume stream joins them in PostgreSQL instead: a
 * span of ids this many times the judgements read (or 4 Mi, whichever is more) is a table of one byte
 * per id that would be mostly empty (taps of the period ingested years apart).
 */
const JUDGEMENT_SPAN_PER_ROW = 8;

/**
 * The stored judgements of the taps in [from, to), for the volume stream to look up by tap id: a table
 * of one byte per tap id between the least and the greatest (tap ids come from one sequence, so a
 * period's are close together), 0 for none, 1 a repeat, 2 a boarding. The same answers as the join it
 * replaces, at a fraction of PostgreSQL's time (the bench's default year: 0.6 s to read, against 2 s
 * more for the joined stream); when the ids are too far apart, the stream joins after all.
 */
async function readStoredJudgements(
  s: BulkSession,
  fromMs: number,
  toMs: number,
): Promise<StoredJudgementSource> {
  let ids = new Float64Array(1 << 16);
  let flags = new Uint8Array(1 << 16);
  let n = 0;
  let min = Infinity;
  let max = -Infinity;
  await streamStoredJudgements(s, fromMs, toMs, (tapId, boarding) => {
    if (n === ids.length) {
      const i2 = new Float64Array(2 * n);
      i2.set(ids);
      ids = i2;
      const f2 = new Uint8Array(2 * n);
      f2.set(flags);
      flags = f2;
    }
    ids[n] = tapId;
    flags[n++] = boarding ? 2 : 1;
    if (tapId < min) min = tapId;
    if (tapId > max) max = tapId;
  });
  if (n === 0) return { kind: 'lookup', get: () => null };
  const span = max - min + 1;
  if (span > Math.max(JUDGEMENT_SPAN_PER_ROW * n, 1 << 22)) return { kind: 'join' };
  const table = new Uint8Array(span);
  for (let i = 0; i < n; i++) table[ids[i]! - min] = flags[i]!;
  return {
    kind: 'lookup',
    get: (tapId) => {
      const f = tapId >= min && tapId <= max ? table[tapId - min]! : 0;
      return f === 0 ? null : f === 2;
    },
  };
}

/**
 * Taps and boardings per Shanghai date and route, as volume_daily holds them, for the dates from the
 * period's start (a Shanghai midnight: Asia/Shanghai keeps UTC+8 all year, see `shanghaiDateOfMs`) to
 * the end of the loaded window.
 */
class DaySums {
  private readonly byRoute = new Map<string, Int32Array>();
  private readonly days: number;

  constructor(
    private readonly fromMs: number,
    toMs: number,
  ) {
    this.days = Math.ceil((toMs - fromMs) / DAY);
  }

  /** Counts (sign 1) or uncounts (-1) one judged tap. */
  add(at: number, routeId: string, boarding: boolean, sign: 1 | -1): void {
    const d = Math.floor((at - this.fromMs) / DAY);
    if (d < 0 || d >= this.days) return;
    let a = this.byRoute.get(routeId);
    if (!a) this.byRoute.set(routeId, (a = new Int32Array(2 * this.days)));
    a[2 * d] = a[2 * d]! + sign;
    if (boarding) a[2 * d + 1] = a[2 * d + 1]! + sign;
  }

  /** The rows of dates before `toDate`, with at least one tap. */
  rows(toDate: string): VolumeDailyRow[] {
    const out: VolumeDailyRow[] = [];
    for (const [routeId, a] of this.byRoute)
      for (let d = 0; d < this.days; d++) {
        const serviceDate = shanghaiDateOfMs(this.fromMs + d * DAY);
        if (serviceDate >= toDate) break;
        if (a[2 * d]! > 0) out.push({ serviceDate, routeId, boardings: a[2 * d + 1]!, taps: a[2 * d]! });
      }
    return out;
  }
}

/**
 * The chunk's persons whose stored counts of the labels differ from what `refreshPersonPeriodCounts`
 * would store from the derived rides of the period (a quarter: its counted rides, the last one's time
 * and the highest rules version of all its rides, when it has any; a year: the same over its
 * quarters). The derived rides come person by person, each in time order (as they are judged); a
 * person met twice is taken as stale rather than trusted.
 */
async function findStaleCounts(
  s: BulkSession,
  persons: readonly string[],
  labels: readonly string[],
  derived: readonly RideRow[],
): Promise<string[]> {
  const stale = new Set<string>();
  const expected = new Map<string, string>();
  for (let i = 0; i < derived.length;) {
    const personId = derived[i]!.personId;
    let j = i;
    while (j < derived.length && derived[j]!.personId === personId) j++;
    const run = derived.slice(i, j);
    for (const label of labels) {
      let total = 0;
      let rulesVersion = '';
      for (const r of run) {
        if (!isQuarterInPeriod(r.quarter, label)) continue;
        total++;
        if (r.rulesVersion > rulesVersion) rulesVersion = r.rulesVersion;
      }
      const key = `${personId}:${label}`;
      if (expected.has(key)) stale.add(personId);
      if (total === 0) continue;
      const c = countDerivedRides(run, label);
      expected.set(key, `${c.rides}/${c.lastCountedAtMs ?? '-'}/${rulesVersion}`);
    }
    i = j;
  }
  const mine = new Set(persons);
  await streamPersonsCounts(s, labels, (personId, period, rides, lastMs, rulesVersion) => {
    if (!mine.has(personId)) return;
    const key = `${personId}:${period}`;
    if (expected.get(key) !== `${rides}/${lastMs ?? '-'}/${rulesVersion}`) stale.add(personId);
    expected.delete(key);
  });
  // Counts the store lacks.
  for (const key of expected.keys()) stale.add(key.slice(0, key.indexOf(':')));
  return persons.filter((p) => stale.has(p));
}

/**
 * R13 "more than `max` counted rides on a day" over the derived rides of the period, which come person
 * by person in time order (as they are judged), so that a person's day is a run of rides. Undefined
 * when they do not (a person met twice): the caller counts in the database instead.
 */
function busyDaysOf(derived: readonly RideRow[], max: number): NewAnomaly[] | undefined {
  const busy: NewAnomaly[] = [];
  const done = new Set<string>();
  for (let i = 0; i < derived.length;) {
    const first = derived[i]!;
    const personId = first.personId;
    if (i === 0 || derived[i - 1]!.personId !== personId) {
      if (done.has(personId)) return undefined;
      done.add(personId);
    }
    const date = shanghaiDateOfMs(first.atMs);
    let rides = 0;
    let j = i;
    for (; j < derived.length; j++) {
      const r = derived[j]!;
      if (r.personId !== personId || shanghaiDateOfMs(r.atMs) !== date) break;
      const previous = derived[j - 1];
      if (previous?.personId === personId && r.atMs < previous.atMs) return undefined;
      if (r.counted) rides++;
    }
    if (rides > max)
      busy.push({
        kind: 'rides_per_day',
        personId,
        period: first.quarter,
        key: `${personId}:${date}`,
        details: { date, rides },
      });
    i = j;
  }
  return busy;
}

function formatRide(r: RideRow): string {
  return `${r.tapIds.join('+')}@${new Date(r.atMs).toISOString()} ${r.vehicleId}/${r.routeId} ${r.quarter} e=${r.eligible} r=${r.rated} x=${r.excluded} c=${r.counted} ${r.rulesVersion}`;
}

/**
 * Derived rides against the stored ones streamed (those `keep` accepts): the derived rides that are
 * new or differ, each with its stored version if any, and the stored rides derived no more. A stored
 * ride equal to its derived one is compared where it lies in the stream and never read whole.
 */
async function matchStored(
  stream: (fn: (c: StoredRideCursor) => void) => Promise<void>,
  derived: readonly RideRow[],
  keep: (c: StoredRideCursor, personId: string) => boolean,
): Promise<{ changed: { r: RideRow; old: RideRow | undefined }[]; gone: RideRow[] }> {
  // Derived rides by first tap (a tap starts at most one ride; a second person's ride with the same
  // first tap, which bindings do not allow, would be found by person and tap in `others`).
  const index = new Map<number, number>();
  const others = new Map<string, number>();
  for (let i = 0; i < derived.length; i++) {
    const r = derived[i]!;
    if (index.has(r.firstTapId)) others.set(`${r.personId}:${r.firstTapId}`, i);
    else index.set(r.firstTapId, i);
  }
  /** 1 for a derived ride stored unchanged; the stored version of one that differs is in `olds`. */
  const same = new Uint8Array(derived.length);
  const olds = new Map<number, RideRow>();
  const gone: RideRow[] = [];
  await stream((c) => {
    const personId = c.personId();
    if (!keep(c, personId)) return;
    const tapId = c.firstTapId();
    let i = index.get(tapId);
    if (i !== undefined && derived[i]!.personId !== personId) i = others.get(`${personId}:${tapId}`);
    if (i !== undefined && c.same(derived[i]!)) {
      same[i] = 1;
      return;
    }
    const row = c.row();
    if (i !== undefined) olds.set(i, row);
    else gone.push(row);
  });
  const changed: { r: RideRow; old: RideRow | undefined }[] = [];
  for (let i = 0; i < derived.length; i++)
    if (same[i] === 0) changed.push({ r: derived[i]!, old: olds.get(i) });
  return { changed, gone };
}

/**
 * Check mode's comparison for a chunk of persons: derived rides of the period against the stored ones
 * (by person and first tap), then each person's counts of the labels. Both sides are taken in
 * (person, time, first tap) order, so that any two paths deriving the same rides list the same texts.
 */
function diffRides(
  persons: readonly string[],
  labels: readonly string[],
  derived: readonly RideRow[],
  changed: { r: RideRow; old: RideRow | undefined }[],
  gone: RideRow[],
  storedCounts: Map<string, string>,
  differ: (d: Difference) => void,
): void {
  const order = (a: RideRow, b: RideRow) =>
    a.personId < b.personId
      ? -1
      : a.personId > b.personId
        ? 1
        : a.atMs - b.atMs || a.firstTapId - b.firstTapId;
  changed.sort((a, b) => order(a.r, b.r));
  for (const { r, old } of changed)
    differ(
      () =>
        `ride ${r.personId}:${r.firstTapId}: recomputed ${formatRide(r)}, stored ${old ? formatRide(old) : 'missing'}`,
    );
  for (const r of gone.sort(order))
    differ(() => `ride ${r.personId}:${r.firstTapId}: stored ${formatRide(r)}, recomputed missing`);
  const byPerson = new Map<string, RideRow[]>();
  for (const r of derived) {
    let list = byPerson.get(r.personId);
    if (!list) byPerson.set(r.personId, (list = []));
    list.push(r);
  }
  const mine = new Set(persons);
  for (const personId of [...byPerson.keys()].sort()) {
    const rides = byPerson.get(personId)!;
    for (const label of labels) {
      if (!rides.some((r) => isQuarterInPeriod(r.quarter, label))) continue;
      const c = countDerivedRides(rides, label);
      const want = `${c.rides}/${c.lastCountedAtMs ?? '-'}`;
      const got = storedCounts.get(`${personId}:${label}`);
      storedCounts.delete(`${personId}:${label}`);
      if (got !== want) differ(`count ${personId} ${label}: recomputed ${want}, stored ${got ?? 'missing'}`);
    }
  }
  for (const [k, v] of [...storedCounts].sort(([a], [b]) => (a < b ? -1 : 1)))
    if (mine.has(k.slice(0, k.indexOf(':')))) differ(`count ${k}: stored ${v}, recomputed none`);
}
