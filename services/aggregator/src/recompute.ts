/**
 * Full recompute of a period from raw data (issue 4 §4), through the same engine as the worker in
 * `raw` mode: nothing stored is trusted, every stretch starts at a tap that starts a ride regardless
 * of what came before. `check` compares without writing and lists the differences.
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
  type LoadedVolumeTap,
  lockPersonBuckets,
  lockVolumeRecompute,
  rebuildVolumeDaily,
  refreshPersonPeriodCounts,
  sql,
  sumBoardingsByDay,
  type Database,
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
  personChunk?: number;
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
  const personChunk = options.personChunk ?? 500;
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
  const differ = (text: string) => {
    report.differenceCount++;
    if (report.differences.length < 100) report.differences.push(text);
  };
  let done = 0;

  const t0 = performance.now();
  for (let i = 0; i < persons.length; i += personChunk) {
    const chunk = persons.slice(i, i + personChunk);
    await db.transaction().execute(async (tx) => {
      await lockPersonBuckets(tx, chunk);
      const result = await rederivePersons(
        tx,
        chunk.map((personId) => ({ personId, fromMs: start, toMs: end - 1 })),
        opts,
      );
      const inPeriod = result.rides.filter((r) => r.atMs >= start && r.atMs < end);
      report.rides += inPeriod.length;
      report.taps += inPeriod.reduce((n, r) => n + r.tapIds.length, 0);
      if (check) await compareRides(tx, chunk, start, end, labels, inPeriod, differ);
      else
        await refreshPersonPeriodCounts(
          tx,
          chunk.flatMap((personId) => quarters.map((quarter) => ({ personId, quarter }))),
        );
    });
    done += chunk.length;
    options.onProgress?.(done, total);
  }

  report.seconds.rides = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  // Volume: walk every (medium, vehicle) key slice by slice (one ordered scan each, not a probe per key).
  let maxAt = end;
  for (let slice = 0; slice < slices; slice++) {
    await db.transaction().execute(async (tx) => {
      if (!check) await lockVolumeRecompute(tx, true);
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
      const setBasedDiffs: { ordinal: number; tapId: number; boarding: boolean; previous: boolean | null }[] =
        [];
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
        setBasedDiffs.push(...r.differences);
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
            list.push({ ordinal: ordinals[i]!, tapId: c.tapId, boarding: c.boarding, previous: c.previous });
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
    done += 1;
    options.onProgress?.(done, total);
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
  return report;
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
  const fmt = (r: RideRow) =>
    `${r.tapIds.join('+')}@${new Date(r.atMs).toISOString()} ${r.vehicleId}/${r.routeId} ${r.quarter} e=${r.eligible} r=${r.rated} x=${r.excluded} c=${r.counted} ${r.rulesVersion}`;
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
