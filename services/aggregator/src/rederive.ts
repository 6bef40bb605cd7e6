/**
 * The re-derivation engine shared by the incremental worker and the full recompute. For each person
 * (R1-R6) and each (medium, vehicle) key (R14) it loads the taps around a changed stretch, asks
 * `planRegroup` which stretch to regroup, judges the rides with the pure rules and writes the result.
 *
 * Two modes differ only in which group starts they trust:
 * - `incremental`: the stored derivation (rides, tap_boardings) outside the regrouped stretch;
 * - `raw` (recompute): nothing stored; every tap that starts a group regardless is a reset point.
 */
import {
  applyBoardingChanges,
  deleteRides,
  findStoredRidesInStretches,
  findEmploymentFacts,
  findExclusionFacts,
  findPersonsTapsInRanges,
  findRatingsOfTaps,
  findStoredRideStarts,
  findVolumeTapsInRanges,
  recordAnomalies,
  findBusyDaysOfPersons,
  refreshPersonPeriodCounts,
  replaceRideStretches,
  type BoardingChange,
  type Database,
  type DB,
  type LoadedVolumeTap,
  type EmploymentFactRow,
  type ExclusionFactRow,
  type NewAnomaly,
  type RideRow,
  type RideStretch,
  type Transaction,
  type VolumeKeyRange,
} from '@ridetally/db';
import {
  findTwoVehicleRides,
  indexRatings,
  judgeRides,
  planRegroup,
  shanghaiDateOfMs,
  type EmploymentSpan,
  type ExclusionFact,
  type DerivedRide,
  type RatingsByTap,
  type Ride,
  type RideTap,
  type TapPosition,
} from '@ridetally/domain';
import type { RuleBook } from './rules';

type Db = Database | Transaction<DB>;

export type TrustMode = 'incremental' | 'raw';

export interface PersonChange {
  personId: string;
  /** The changed stretch, inclusive; ±Infinity for "from the first tap" / "to the end". */
  fromMs: number;
  toMs: number;
  /** Taps from `fromMs` on may have left the person (a binding changed). */
  removals?: boolean;
}

export interface RederiveOptions {
  rules: RuleBook;
  cityRoutes: ReadonlySet<string>;
  mode: TrustMode;
  /** Compute only (recompute --check): nothing is written. */
  dryRun?: boolean;
}

export interface PersonResult {
  /** Derived rides of the regrouped stretches. */
  rides: RideRow[];
  stretches: RideStretch[];
}

const HOUR = 3_600_000;
/** Successive margins around the changed stretch when the loaded taps do not reach a reset point. */
const PERSON_MARGINS = [2 * HOUR, 48 * HOUR, 60 * 24 * HOUR, Infinity];
const VOLUME_MARGINS = [10 * 60_000, 6 * HOUR, 7 * 24 * HOUR, Infinity];
const ALL: ReadonlySet<number> = { has: () => true } as unknown as ReadonlySet<number>;

function mergeChanges(changes: readonly PersonChange[]): PersonChange[] {
  const m = new Map<string, PersonChange>();
  for (const c of changes) {
    const prev = m.get(c.personId);
    m.set(
      c.personId,
      prev
        ? {
            personId: c.personId,
            fromMs: Math.min(prev.fromMs, c.fromMs),
            toMs: Math.max(prev.toMs, c.toMs),
            removals: !!(prev.removals || c.removals),
          }
        : { ...c },
    );
  }
  return [...m.values()].sort((a, b) => (a.personId < b.personId ? -1 : 1));
}

/** Re-derives the persons' rides around their changes; writes rides, counts and anomalies. */
export async function rederivePersons(
  db: Db,
  changes: readonly PersonChange[],
  opts: RederiveOptions,
): Promise<PersonResult> {
  const merged = mergeChanges(changes);
  const groupSeconds = opts.rules.rideGroupSeconds;
  const ready: ReadyPerson[] = [];
  let pending = merged.map((c) => ({ change: c, back: 0, fwd: 0 }));
  while (pending.length > 0) {
    const ranges = pending.map((p) => ({
      personId: p.change.personId,
      fromMs: p.change.fromMs - PERSON_MARGINS[p.back]!,
      toMs: p.change.toMs + PERSON_MARGINS[p.fwd]!,
    }));
    const [taps, starts] = await Promise.all([
      findPersonsTapsInRanges(db, ranges),
      opts.mode === 'incremental' ? findStoredRideStarts(db, ranges) : Promise.resolve([]),
    ]);
    const tapsBy = groupBy(taps, (t) => t.personId);
    const startsBy = new Map<string, Set<number>>();
    for (const s of starts)
      (startsBy.get(s.personId) ?? startsBy.set(s.personId, new Set()).get(s.personId)!).add(s.firstTapId);
    const next: typeof pending = [];
    pending.forEach((p, i) => {
      const range = ranges[i]!;
      const plan = planRegroup<RideTap>({
        taps: tapsBy.get(p.change.personId) ?? [],
        loadedFromMs: range.fromMs,
        loadedToMs: range.toMs + 1,
        changedFromMs: p.change.fromMs,
        changedToMs: p.change.toMs,
        storedStarts: opts.mode === 'raw' ? ALL : (startsBy.get(p.change.personId) ?? new Set()),
        removals: p.change.removals ?? false,
        windowSeconds: groupSeconds,
      });
      if (plan.kind === 'extend-back') next.push({ ...p, back: p.back + 1 });
      else if (plan.kind === 'extend-forward') next.push({ ...p, fwd: p.fwd + 1 });
      else
        ready.push({
          personId: p.change.personId,
          deleteFrom: plan.deleteFrom,
          deleteTo: plan.deleteTo,
          groups: plan.groups,
        });
    });
    pending = next;
  }

  const personIds = ready.map((r) => r.personId);
  const tapIds = ready.flatMap((r) => r.groups.flatMap((g) => g.taps.map((t) => t.tapId)));
  const [employments, exclusions, ratings] = await Promise.all([
    findEmploymentFacts(db, personIds),
    findExclusionFacts(db, personIds),
    findRatingsOfTaps(db, tapIds),
  ]);
  const derived = judgeReadyPersons(ready, { employments, exclusions, ratings }, opts);
  if (opts.dryRun) return derived;

  let touched: { personId: string; quarter: string }[];
  if (opts.mode === 'raw') {
    // A recompute usually finds what is stored: write only the differences.
    touched = await writeRideDifferences(
      db,
      derived.rides,
      await findStoredRidesInStretches(db, derived.stretches),
    );
  } else {
    touched = await replaceRideStretches(db, derived.stretches, derived.rides);
  }
  await refreshPersonPeriodCounts(db, touched);
  await recordAnomalies(db, derived.anomalies);
  await recordBusyDays(db, derived.rides, opts.rules);
  return derived;
}

/** A person whose stretch to regroup is known (`planRegroup` answered `ready`). */
export interface ReadyPerson {
  personId: string;
  deleteFrom: TapPosition | null;
  deleteTo: TapPosition | null;
  groups: Ride<RideTap>[];
}

/**
 * The facts that judge the ready persons' rides (any order; ratings of other persons are ignored).
 * Ratings come as rows, or already indexed by person and rated tap (the recompute builds the index
 * as it streams them, with no object per rating).
 */
export interface LoadedFacts {
  employments: readonly EmploymentFactRow[];
  exclusions: readonly ExclusionFactRow[];
  ratings:
    | readonly { personId: string; tapId: number; ratedAtMs: number }[]
    | ReadonlyMap<string, ReadonlyMap<number, readonly number[]>>;
}

export interface JudgedPersons extends PersonResult {
  /** R13 two-vehicle anomalies of the derived rides. */
  anomalies: NewAnomaly[];
}

function isRatingIndex(
  r: LoadedFacts['ratings'],
): r is ReadonlyMap<string, ReadonlyMap<number, readonly number[]>> {
  return r instanceof Map;
}

/** Judges the ready persons' rides (R2, R3, R5, exclusions) and finds their two-vehicle anomalies. */
export function judgeReadyPersons(
  ready: readonly ReadyPerson[],
  facts: LoadedFacts,
  opts: Pick<RederiveOptions, 'rules' | 'cityRoutes'>,
): JudgedPersons {
  const judge = personJudge(facts, opts);
  const out: JudgedPersons = { rides: [], stretches: [], anomalies: [] };
  for (const r of ready) judge(r, out);
  return out;
}

/**
 * `judgeReadyPersons` one person at a time: the facts are indexed once, then each ready person's rides,
 * stretch and anomalies are appended to `out` (the recompute judges a person as soon as their taps
 * have streamed past, so that their taps and groups die young). The person's ratings by rated tap may
 * be passed with them instead of in `facts` (the recompute reads them in a stream of their own).
 */
export function personJudge(
  facts: LoadedFacts,
  opts: Pick<RederiveOptions, 'rules' | 'cityRoutes'>,
): (r: ReadyPerson, out: JudgedPersons, ratingsByTap?: RatingsByTap) => void {
  const empBy = groupBy(facts.employments, (e) => e.personId);
  const exclBy = groupBy(facts.exclusions, (e) => e.personId);
  const ratings = facts.ratings;
  const ratingsBy: ReadonlyMap<string, ReadonlyMap<number, readonly number[]>> = isRatingIndex(ratings)
    ? ratings
    : new Map([...groupBy(ratings, (x) => x.personId)].map(([p, list]) => [p, indexRatings(list)]));
  const none: RatingsByTap = new Map<number, number[]>();
  const ctx = { cityRoutes: opts.cityRoutes, rulesFor: (year: number) => opts.rules.rulesFor(year) };
  const seconds = opts.rules.rulesFor(2022).anomalyTwoVehiclesSeconds;

  return (r, out, ratingsByTap) => {
    const personFacts = {
      employments: (empBy.get(r.personId) ?? []) as EmploymentSpan[],
      ratingsByTap: ratingsByTap ?? ratingsBy.get(r.personId) ?? none,
      exclusions: (exclBy.get(r.personId) ?? []).map((e): ExclusionFact => ({
        period: e.period,
        tapId: e.tapId,
      })),
    };
    const derived = judgeRides(r.groups, personFacts, ctx);
    // The derived ride becomes the stored-ride row by gaining its person (no copy per ride).
    for (const d of derived) {
      const row = d as DerivedRide & { personId: string };
      row.personId = r.personId;
      out.rides.push(row);
    }
    out.stretches.push({
      personId: r.personId,
      lower: r.deleteFrom ? { atMs: r.deleteFrom.at, tapId: r.deleteFrom.tapId } : undefined,
      upper: r.deleteTo ? { atMs: r.deleteTo.at, tapId: r.deleteTo.tapId } : undefined,
    });
    for (const { a, b } of findTwoVehicleRides(derived, seconds)) {
      out.anomalies.push({
        kind: 'two_vehicles',
        personId: r.personId,
        period: a.quarter,
        key: `${r.personId}:${a.firstTapId}:${b.firstTapId}`,
        details: {
          firstTapIds: [a.firstTapId, b.firstTapId],
          vehicleIds: [a.vehicleId, b.vehicleId],
          seconds: (b.atMs - a.atMs) / 1000,
        },
      });
    }
  };
}

/**
 * Raw mode's write (the engine's; the bulk recompute compares in its stream): the stored rides of the
 * regrouped stretches that are not derived any more are deleted, the derived rides that are new or
 * differ are upserted. Returns the (person, quarter) pairs whose rides changed.
 */
async function writeRideDifferences(
  db: Db,
  rides: readonly RideRow[],
  stored: readonly RideRow[],
): Promise<{ personId: string; quarter: string }[]> {
  const storedBy = new Map<string, Map<number, RideRow>>();
  for (const r of stored) {
    let m = storedBy.get(r.personId);
    if (!m) storedBy.set(r.personId, (m = new Map<number, RideRow>()));
    m.set(r.firstTapId, r);
  }
  const changed = rides.filter((r) => {
    const m = storedBy.get(r.personId);
    const old = m?.get(r.firstTapId);
    if (old) m!.delete(r.firstTapId);
    return !old || !sameRide(old, r);
  });
  const gone: RideRow[] = [];
  for (const m of storedBy.values()) for (const r of m.values()) gone.push(r);
  return [...(await deleteRides(db, gone)), ...(await replaceRideStretches(db, [], changed))];
}

/** Same stored content (the key aside). */
function sameRide(a: RideRow, b: RideRow): boolean {
  if (
    a.atMs !== b.atMs ||
    a.vehicleId !== b.vehicleId ||
    a.routeId !== b.routeId ||
    a.quarter !== b.quarter ||
    a.eligible !== b.eligible ||
    a.rated !== b.rated ||
    a.excluded !== b.excluded ||
    a.counted !== b.counted ||
    a.rulesVersion !== b.rulesVersion ||
    a.tapIds.length !== b.tapIds.length
  )
    return false;
  for (let i = 0; i < a.tapIds.length; i++) if (a.tapIds[i] !== b.tapIds[i]) return false;
  return true;
}

/** R13's daily limit (one for the whole programme: the first year's). */
export function maxRidesPerDay(rules: RuleBook): number {
  return rules.rulesFor(2022).anomalyMaxRidesPerDay;
}

/** R13: days of the re-derived stretches with more than the allowed counted rides. */

export async function recordBusyDays(db: Db, rides: readonly RideRow[], rules: RuleBook): Promise<void> {
  const counted = rides.filter((r) => r.counted);
  if (counted.length === 0) return;
  const DAY = 24 * HOUR;
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of counted) {
    lo = Math.min(lo, r.atMs);
    hi = Math.max(hi, r.atMs);
  }
  const persons = [...new Set(counted.map((r) => r.personId))];
  const max = maxRidesPerDay(rules);
  const busy = await findBusyDaysOfPersons(db, persons, lo - DAY, hi + DAY, max);
  const inStretch = new Set(counted.map((r) => `${r.personId}|${shanghaiDateOfMs(r.atMs)}`));
  await recordAnomalies(
    db,
    busy
      .filter((b) => inStretch.has(`${b.personId}|${b.date}`))
      .map((b) => ({
        kind: 'rides_per_day' as const,
        personId: b.personId,
        period: b.quarter,
        key: `${b.personId}:${b.date}`,
        details: { date: b.date, rides: b.rides },
      })),
  );
}

export interface VolumeResult {
  changes: BoardingChange[];
  /** Latest instant whose judgement was (re)written; the recompute rebuilds day sums up to it. */
  maxAtMs: number;
}

/** Re-derives R14 judgements around changed (medium, vehicle) stretches; applies exact deltas. */
export async function rederiveVolume(
  db: Db,
  ranges: readonly VolumeKeyRange[],
  opts: RederiveOptions,
): Promise<VolumeResult> {
  const seconds = opts.rules.volumeRepeatSeconds;
  const changes: BoardingChange[] = [];
  let maxAtMs = -Infinity;
  let pending = ranges.map((r) => ({ range: r, back: 0, fwd: 0 }));
  while (pending.length > 0) {
    const loadRanges = pending.map((p) => ({
      ...p.range,
      fromMs: p.range.fromMs - VOLUME_MARGINS[p.back]!,
      toMs: p.range.toMs + VOLUME_MARGINS[p.fwd]!,
    }));
    const taps = await findVolumeTapsInRanges(db, loadRanges);
    const byIdx = groupBy(taps, (t) => t.idx);
    const next: typeof pending = [];
    pending.forEach((p, i) => {
      const list = (byIdx.get(i) ?? []).map((t) => ({ ...t, vehicleId: '' }));
      const stored =
        opts.mode === 'raw' ? ALL : new Set(list.filter((t) => t.stored === true).map((t) => t.tapId));
      const plan = planRegroup<RideTap & LoadedVolumeTap>({
        taps: list,
        loadedFromMs: loadRanges[i]!.fromMs,
        loadedToMs: loadRanges[i]!.toMs + 1,
        changedFromMs: p.range.fromMs,
        changedToMs: p.range.toMs,
        storedStarts: stored,
        windowSeconds: seconds,
      });
      if (plan.kind === 'extend-back') next.push({ ...p, back: p.back + 1 });
      else if (plan.kind === 'extend-forward') next.push({ ...p, fwd: p.fwd + 1 });
      else {
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
            if (t.at > maxAtMs) maxAtMs = t.at;
          });
        }
      }
    });
    pending = next;
  }
  if (!opts.dryRun) await applyBoardingChanges(db, changes);
  return { changes, maxAtMs };
}

function groupBy<T, K>(items: readonly T[], key: (t: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}
