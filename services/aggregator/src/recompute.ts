/**
 * Full recompute of a period from raw data (issue 4 §4): nothing stored is trusted. `check` compares
 * without writing and lists the differences.
 *
 * Rides (R1-R6): set-based in PostgreSQL (`recomputeRidesChunk`, one statement per chunk of persons
 * that loads, groups, judges and writes only what differs); persons whose rides may reach beyond the
 * loaded window go through the worker's engine in `raw` mode (every stretch starts at a tap that
 * starts a ride regardless of what came before), as does everything when the R4 window exceeds the
 * loaded margin. Volume (R14): set-based per hash slice (`recomputeVolumeSlice`), hard keys through
 * the engine. On PostgreSQL the two phases run side by side on two connections.
 */
import {
  findCityRouteIds,
  findPersonsActiveIn,
  findStoredRides,
  applyBoardingChanges,
  countTapsIn,
  findVolumeDaily,
  findVolumeTapsSlice,
  findVolumeTapsInRanges,
  recomputeVolumeSlice,
  recomputeRidesChunk,
  type CheckedRide,
  type LoadedVolumeTap,
  lockPersonBuckets,
  lockVolumeRecompute,
  rebuildVolumeDaily,
  refreshPersonPeriodCounts,
  sql,
  sumBoardingsByDay,
  type Database,
  type DB,
  type Transaction,
  type BoardingChange,
  type RideRow,
  type VolumeKeyRange,
} from '@ridetally/db';
import {
  countDerivedRides,
  formatPeriod,
  parsePeriod,
  periodBounds,
  planRegroup,
  quartersOf,
  shanghaiDateOfMs,
  type DerivedRide,
} from '@ridetally/domain';
import { rederivePersons, rederiveVolume } from './rederive';
import { loadRuleBook } from './rules';

export interface RecomputeOptions {
  check?: boolean;
  onProgress?: (done: number, total: number) => void;
  /** Persons per rides transaction (each is one scan of the period's taps). */
  personChunk?: number;
  /** Run the rides and volume phases side by side (two connections; PGlite serialises them anyway). */
  parallel?: boolean;
  /** Force the engine (tap by tap in Node) for the rides phase: the reference path, for tests. */
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
/** Taps loaded around the period to find reset points for R14 (a key with none in a day falls back to the engine). */
const VOLUME_MARGIN = DAY;
/** Taps loaded around the period for the set-based rides phase (a person needing more goes through the engine). */
const RIDE_MARGIN = DAY;
type VolumeKeyTap = Omit<LoadedVolumeTap, 'idx'> & { vehicleId: string };

function groupByIdx(taps: readonly LoadedVolumeTap[]): Map<number, LoadedVolumeTap[]> {
  const m = new Map<number, LoadedVolumeTap[]>();
  for (const t of taps) {
    const list = m.get(t.idx);
    if (list) list.push(t);
    else m.set(t.idx, [t]);
  }
  return m;
}

const ALL_STARTS: ReadonlySet<number> = { has: () => true } as unknown as ReadonlySet<number>;

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
  const persons = await findPersonsActiveIn(db, start, end, labels);
  const setBased = !options.engineRides && rules.rideGroupSeconds * 1000 <= RIDE_MARGIN;
  const personChunk = options.personChunk ?? (setBased ? 20_000 : 500);
  // Each slice is one scan of the period's taps: as few as memory allows (~500k taps per slice).
  const slices =
    options.volumeSlices ??
    Math.max(1, Math.ceil((await countTapsIn(db, start - VOLUME_MARGIN, end + VOLUME_MARGIN)) / 500_000));
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
  const collector = () => {
    const c = { count: 0, list: [] as string[] };
    return Object.assign(c, {
      differ: (text: string) => {
        c.count++;
        if (c.list.length < 100) c.list.push(text);
      },
    });
  };
  const rideDiffs = collector();
  const volumeDiffs = collector();
  let done = 0;
  const progress = (n: number) => {
    done += n;
    options.onProgress?.(done, total);
  };

  /** The engine (tap by tap in Node) for some persons, inside the caller's transaction. */
  const engineRides = async (tx: Transaction<DB>, chunk: string[]): Promise<void> => {
    const result = await rederivePersons(
      tx,
      chunk.map((personId) => ({ personId, fromMs: start, toMs: end - 1 })),
      opts,
    );
    const inPeriod = result.rides.filter((r) => r.atMs >= start && r.atMs < end);
    report.rides += inPeriod.length;
    report.taps += inPeriod.reduce((n, r) => n + r.tapIds.length, 0);
    if (check) await compareRides(tx, chunk, start, end, labels, inPeriod, rideDiffs.differ);
    else
      await refreshPersonPeriodCounts(
        tx,
        chunk.flatMap((personId) => quarters.map((quarter) => ({ personId, quarter }))),
      );
  };

  const ridesPhase = async (): Promise<void> => {
    const t0 = performance.now();
    const years: number[] = [];
    for (let y = yearOfMs(start - RIDE_MARGIN); y <= yearOfMs(end + RIDE_MARGIN); y++) years.push(y);
    const rideRules = years.map((year) => {
      const r = rules.rulesFor(year);
      return {
        year,
        version: r.version,
        ratingWindowDays: r.ratingWindowDays,
        eligibleEmployerTypes: r.eligibleEmployerTypes,
      };
    });
    // As the engine does (rederive.ts): R13 thresholds of the rule book's base year.
    const anomalyRules = rules.rulesFor(2022);
    for (let i = 0; i < persons.length; i += personChunk) {
      const chunk = persons.slice(i, i + personChunk);
      await db.transaction().execute(async (tx) => {
        await lockPersonBuckets(tx, chunk);
        if (!setBased) return engineRides(tx, chunk);
        const r = await recomputeRidesChunk(tx, {
          personIds: chunk,
          loadedFromMs: start - RIDE_MARGIN,
          loadedToMs: end + RIDE_MARGIN,
          periodFromMs: start,
          periodToMs: end,
          rideGroupSeconds: rules.rideGroupSeconds,
          rules: rideRules,
          labels,
          anomalyTwoVehiclesSeconds: anomalyRules.anomalyTwoVehiclesSeconds,
          anomalyMaxRidesPerDay: anomalyRules.anomalyMaxRidesPerDay,
          check,
        });
        report.rides += r.rides;
        report.taps += r.taps;
        if (check) {
          for (const d of r.rideDifferences) rideDiffs.differ(formatRideDifference(d));
          for (const d of r.countDifferences) {
            const show = (c: { rides: number; lastMs: number | null }) => `${c.rides}/${c.lastMs ?? '-'}`;
            const k = `${d.personId}:${d.period}`;
            rideDiffs.differ(
              d.recomputed
                ? `count ${d.personId} ${d.period}: recomputed ${show(d.recomputed)}, stored ${d.stored ? show(d.stored) : 'missing'}`
                : `count ${k}: stored ${show(d.stored!)}, recomputed none`,
            );
          }
          // Differences beyond those listed are counted only.
          rideDiffs.count += r.differenceCount - r.rideDifferences.length - r.countDifferences.length;
        } else {
          await refreshPersonPeriodCounts(tx, r.refresh);
        }
        // Persons whose rides may reach beyond the loaded window: the engine widens its window.
        if (r.uncertain.length > 0) await engineRides(tx, r.uncertain);
      });
      progress(chunk.length);
    }
    report.seconds.rides = (performance.now() - t0) / 1000;
  };

  const volumePhase = async (): Promise<void> => {
    const differ = volumeDiffs.differ;
    const t1 = performance.now();
    // Volume: walk every (medium, vehicle) key slice by slice (one ordered scan each, not a probe per key).
    let maxAt = end;
    for (let slice = 0; slice < slices; slice++) {
      await db.transaction().execute(async (tx) => {
        if (!check) await lockVolumeRecompute(tx, true);
        // Whole-slice statements: JIT compilation costs more than it saves here.
        await sql`SET LOCAL jit = off`.execute(tx);
        const loadedFromMs = start - VOLUME_MARGIN;
        const loadedToMs = end + VOLUME_MARGIN;
        const judge = (list: VolumeKeyTap[], key: VolumeKeyRange, ordinal: number): void => {
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
            fallback.push({ ...key, fromMs: start, toMs: end - 1 });
            return;
          }
          for (const g of plan.groups) {
            g.taps.forEach((t, k) => {
              changes.push({
                tapId: t.tapId,
                atMs: t.at,
                routeId: t.routeId,
                serviceDate: shanghaiDateOfMs(t.at),
                boarding: k === 0,
                previous: t.stored,
              });
              ordinals.push(ordinal);
              if (t.at > maxAt) maxAt = t.at;
            });
          }
        };
        const changes: BoardingChange[] = [];
        /** Key ordinal of each entry of `changes` (orders the differences as the keys are ordered). */
        const ordinals: number[] = [];
        const fallback: VolumeKeyRange[] = [];
        const setBasedDiffs: {
          ordinal: number;
          tapId: number;
          boarding: boolean;
          previous: boolean | null;
        }[] = [];
        if (rules.volumeRepeatSeconds * 1000 <= VOLUME_MARGIN) {
          // Set-based pass (one statement) for every key whose runs are short; the others tap by tap below.
          const r = await recomputeVolumeSlice(tx, {
            loadedFromMs,
            loadedToMs,
            periodFromMs: start,
            periodToMs: end,
            windowSeconds: rules.volumeRepeatSeconds,
            slice,
            slices,
            check,
          });
          report.volumeKeys += r.keys;
          maxAt = Math.max(maxAt, r.maxAtMs);
          for (const d of r.differences) setBasedDiffs.push(d);
          const ranges = r.hardKeys.map((k) => ({ ...k, fromMs: loadedFromMs, toMs: loadedToMs }));
          const loaded = groupByIdx(await findVolumeTapsInRanges(tx, ranges));
          ranges.forEach((range, i) =>
            judge(
              (loaded.get(i) ?? []).map((t) => ({ ...t, vehicleId: '' })),
              range,
              r.hardKeys[i]!.ordinal,
            ),
          );
        } else {
          const taps = await findVolumeTapsSlice(tx, loadedFromMs, loadedToMs, slice, slices);
          let ordinal = 0;
          for (let i = 0; i < taps.length;) {
            const first = taps[i]!;
            let j = i + 1;
            while (
              j < taps.length &&
              taps[j]!.mediaKey === first.mediaKey &&
              taps[j]!.mediaType === first.mediaType &&
              taps[j]!.vehicleId === first.vehicleId
            )
              j++;
            ordinal++;
            judge(
              taps.slice(i, j).map((t) => ({ ...t, vehicleId: '' })),
              { ...first, fromMs: start, toMs: end - 1 },
              ordinal,
            );
            i = j;
          }
          report.volumeKeys += ordinal;
        }
        if (!check) await applyBoardingChanges(tx, changes);
        const keyed = changes.length;
        if (fallback.length > 0) {
          // Keys with no reset point within a day of the period: the engine widens their window (and writes, unless checking).
          const v = await rederiveVolume(tx, fallback, opts);
          changes.push(...v.changes);
          maxAt = Math.max(maxAt, v.maxAtMs);
        }
        if (check) {
          // Differences in the order of the keys (set-based and tap-by-tap merged), then the widened keys'.
          const list: { ordinal: number; tapId: number; boarding: boolean; previous: boolean | null }[] = [
            ...setBasedDiffs,
          ];
          for (let i = 0; i < keyed; i++) {
            const c = changes[i]!;
            if (c.previous !== c.boarding)
              list.push({
                ordinal: ordinals[i]!,
                tapId: c.tapId,
                boarding: c.boarding,
                previous: c.previous,
              });
          }
          // Stable sort: within a key the order is already (time, tap id), and a key is wholly on one side.
          list.sort((a, b) => a.ordinal - b.ordinal);
          for (const c of changes.slice(keyed))
            if (c.previous !== c.boarding)
              list.push({ ordinal: Infinity, tapId: c.tapId, boarding: c.boarding, previous: c.previous });
          for (const c of list)
            differ(
              `volume: tap ${c.tapId} judged ${c.boarding ? 'boarding' : 'repeat'}, stored ${c.previous === null ? 'missing' : c.previous ? 'boarding' : 'repeat'}`,
            );
        }
      });
      progress(1);
    }
    const fromDate = shanghaiDateOfMs(start);
    const toDate = shanghaiDateOfMs(maxAt + DAY);
    if (check) {
      const [stored, sums] = await Promise.all([
        findVolumeDaily(db, fromDate, toDate),
        sumBoardingsByDay(db, fromDate, toDate),
      ]);
      const key = (r: { serviceDate: string; routeId: string; boardings: number; taps: number }) =>
        `${r.serviceDate} ${r.routeId} boardings=${r.boardings} taps=${r.taps}`;
      const a = new Set(stored.map(key));
      const bset = new Set(sums.map(key));
      for (const k of a) if (!bset.has(k)) differ(`volume_daily stored ${k} (recomputed differs)`);
      for (const k of bset) if (!a.has(k)) differ(`volume_daily recomputed ${k} (stored differs)`);
    } else {
      await db.transaction().execute(async (tx) => {
        await lockVolumeRecompute(tx, true);
        await rebuildVolumeDaily(tx, fromDate, toDate);
      });
    }
    report.seconds.volume = (performance.now() - t1) / 1000;
  };

  if (options.parallel ?? true) {
    const settled = await Promise.allSettled([ridesPhase(), volumePhase()]);
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
  } else {
    await ridesPhase();
    await volumePhase();
  }
  report.differences = [...rideDiffs.list, ...volumeDiffs.list].slice(0, 100);
  report.differenceCount = rideDiffs.count + volumeDiffs.count;
  return report;
}

/** Shanghai calendar year of an instant (fixed +8, see `shanghaiDateOfMs`). */
function yearOfMs(ms: number): number {
  return Number(shanghaiDateOfMs(ms).slice(0, 4));
}

function formatRide(r: RideRow): string {
  return `${r.tapIds.join('+')}@${new Date(r.atMs).toISOString()} ${r.vehicleId}/${r.routeId} ${r.quarter} e=${r.eligible} r=${r.rated} x=${r.excluded} c=${r.counted} ${r.rulesVersion}`;
}

function formatRideDifference(d: {
  personId: string;
  firstTapId: number;
  recomputed: CheckedRide | null;
  stored: CheckedRide | null;
}): string {
  const k = `${d.personId}:${d.firstTapId}`;
  return d.recomputed
    ? `ride ${k}: recomputed ${formatRide(d.recomputed)}, stored ${d.stored ? formatRide(d.stored) : 'missing'}`
    : `ride ${k}: stored ${formatRide(d.stored!)}, recomputed missing`;
}

async function compareRides(
  db: Parameters<typeof findStoredRides>[0],
  persons: string[],
  start: number,
  end: number,
  labels: string[],
  derived: RideRow[],
  differ: (t: string) => void,
): Promise<void> {
  const stored = await findStoredRides(db, persons, start, end);
  const fmt = formatRide;
  const s = new Map(stored.map((r) => [`${r.personId}:${r.firstTapId}`, fmt(r)]));
  const d = new Map(derived.map((r) => [`${r.personId}:${r.firstTapId}`, fmt(r)]));
  for (const [k, v] of d)
    if (s.get(k) !== v) differ(`ride ${k}: recomputed ${v}, stored ${s.get(k) ?? 'missing'}`);
  for (const [k, v] of s) if (!d.has(k)) differ(`ride ${k}: stored ${v}, recomputed missing`);
  const { rows } = await sql<{ person_id: string; period: string; rides: number; last: number | null }>`
    SELECT person_id, period, rides, floor(extract(epoch FROM last_counted_at) * 1000)::float8 AS last
    FROM person_period_counts WHERE person_id = ANY(${persons}::uuid[]) AND period = ANY(${labels}::text[])`.execute(
    db,
  );
  const storedCounts = new Map(
    rows.map((r) => [`${r.person_id}:${r.period}`, `${r.rides}/${r.last ?? '-'}`]),
  );
  const byPerson = new Map<string, DerivedRide[]>();
  for (const r of derived)
    (byPerson.get(r.personId) ?? byPerson.set(r.personId, []).get(r.personId)!).push({
      ...r,
      year: r.quarter.slice(0, 4),
    });
  for (const [personId, rides] of byPerson) {
    for (const label of labels) {
      const has = rides.some((r) => r.quarter === label || r.year === label);
      if (!has) continue;
      const c = countDerivedRides(rides, label);
      const want = `${c.rides}/${c.lastCountedAtMs ?? '-'}`;
      const got = storedCounts.get(`${personId}:${label}`);
      storedCounts.delete(`${personId}:${label}`);
      if (got !== want) differ(`count ${personId} ${label}: recomputed ${want}, stored ${got ?? 'missing'}`);
    }
  }
  for (const [k, v] of storedCounts) differ(`count ${k}: stored ${v}, recomputed none`);
}
