/**
 * R1-R6 for one person: group taps into rides (R4, `groupRides`), judge each ride (R2, R3, R5, office
 * exclusions), count per period (R6). The incremental worker and the full recompute both call
 * `deriveRides` / `countPersonPeriod`, so they can only differ in which data they load.
 *
 * `planRegroup` decides which stretch of a key's taps must be regrouped after a change, so the
 * incremental path re-derives a small neighbourhood instead of a whole quarter (see its doc).
 */
import {
  isPersonEligibleOn,
  isRatedInWindow,
  isRouteEligible,
  periodLabelsOfMs,
  shanghaiDateOfMs,
  type EmploymentSpan,
} from './eligibility';
import { groupRides, startsRideRegardless, type Ride, type RideTap } from './rides';
import type { Rules } from './rules';

export interface RatingFact {
  /** The tap the rating names; it rates the ride containing that tap. */
  tapId: number;
  ratedAtMs: number;
}

/** An office exclusion (R13): a whole period (`tapId` null) or the ride containing `tapId`. */
export interface ExclusionFact {
  period: string;
  tapId: number | null;
}

/** A person's ratings by rated tap: the times of each tap's ratings (a Map, or any such lookup). */
export interface RatingsByTap {
  get(tapId: number): ArrayLike<number> | undefined;
}

export interface PersonFacts {
  employments: readonly EmploymentSpan[];
  /** The person's ratings, by the tap they name. */
  ratingsByTap: RatingsByTap;
  exclusions: readonly ExclusionFact[];
}

export interface JudgeContext {
  cityRoutes: ReadonlySet<string>;
  /** The rules in force for a programme year. */
  rulesFor: (year: number) => Rules;
}

export interface DerivedRide {
  firstTapId: number;
  atMs: number;
  vehicleId: string;
  routeId: string;
  tapIds: number[];
  quarter: string;
  year: string;
  eligible: boolean;
  rated: boolean;
  excluded: boolean;
  counted: boolean;
  rulesVersion: string;
}

/** Builds the ratings map from a list of ratings. */
export function indexRatings(ratings: readonly RatingFact[]): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const r of ratings) {
    const list = m.get(r.tapId);
    if (list) list.push(r.ratedAtMs);
    else m.set(r.tapId, [r.ratedAtMs]);
  }
  return m;
}

/** Judges grouped rides: eligibility at ride time (R2, R3), rating window (R5), exclusions (R13). */
export function judgeRides(rides: readonly Ride[], facts: PersonFacts, ctx: JudgeContext): DerivedRide[] {
  return rides.map((ride) => {
    const at = ride.first.at;
    const { quarter, year, yearNumber } = periodLabelsOfMs(at);
    const rules = ctx.rulesFor(yearNumber);
    const eligible =
      isRouteEligible(ride.first.routeId, ctx.cityRoutes) &&
      isPersonEligibleOn(shanghaiDateOfMs(at), facts.employments, rules);
    // R5 over the ratings of any of the ride's taps (asked tap by tap: no list made per ride).
    let rated = false;
    for (const t of ride.taps) {
      const ratedAt = facts.ratingsByTap.get(t.tapId);
      if (ratedAt !== undefined && isRatedInWindow(at, ratedAt, rules)) {
        rated = true;
        break;
      }
    }
    const tapIds = ride.taps.map((t) => t.tapId);
    // An exclusion is made for a period (R13): a whole person-period, or one ride of that period. A
    // ride exclusion naming a period the ride is not in excludes nothing (the incremental path
    // re-derives only the named period, so applying it elsewhere would make the two paths differ).
    const excluded = facts.exclusions.some(
      (e) => (e.period === quarter || e.period === year) && (e.tapId === null || tapIds.includes(e.tapId)),
    );
    return {
      firstTapId: ride.first.tapId,
      atMs: at,
      vehicleId: ride.first.vehicleId,
      routeId: ride.first.routeId,
      tapIds,
      quarter,
      year,
      eligible,
      rated,
      excluded,
      counted: eligible && rated && !excluded,
      rulesVersion: rules.version,
    };
  });
}

/** R4 + judgement: taps must start at a reset point (see `startsRideRegardless`). */
export function deriveRides(
  taps: readonly RideTap[],
  facts: PersonFacts,
  ctx: JudgeContext,
  rideGroupSeconds: number,
): DerivedRide[] {
  return judgeRides(groupRides(taps, rideGroupSeconds), facts, ctx);
}

export interface PeriodCount {
  rides: number;
  /** Time of the last counted ride (the first-reached tie policy), null when none. */
  lastCountedAtMs: number | null;
}

/** A ride of `quarter` (`2022-Q3`) lies in `period`: that quarter, or its year (`2022`). */
export function isQuarterInPeriod(quarter: string, period: string): boolean {
  return quarter === period || (period.length === 4 && quarter.startsWith(period));
}

/** R6 over derived rides: counted rides whose quarter or year is `period`. */
export function countDerivedRides(
  rides: readonly Pick<DerivedRide, 'counted' | 'quarter' | 'atMs'>[],
  period: string,
): PeriodCount {
  let n = 0;
  let last: number | null = null;
  for (const r of rides) {
    if (!r.counted || !isQuarterInPeriod(r.quarter, period)) continue;
    n++;
    if (last === null || r.atMs > last) last = r.atMs;
  }
  return { rides: n, lastCountedAtMs: last };
}

export interface CountPersonPeriodInput {
  /** The person's taps (R1 applied), from a reset point before the period to past its end. */
  taps: readonly RideTap[];
  facts: PersonFacts;
  ctx: JudgeContext;
  rideGroupSeconds: number;
  period: string;
}

/** R1-R6 for one person and one period: the count, the last counted ride time, and the rides. */
export function countPersonPeriod(input: CountPersonPeriodInput): PeriodCount & { detail: DerivedRide[] } {
  const all = deriveRides(input.taps, input.facts, input.ctx, input.rideGroupSeconds);
  const detail = all.filter((r) => r.quarter === input.period || r.year === input.period);
  return { ...countDerivedRides(detail, input.period), detail };
}

export interface RegroupInput<T extends RideTap> {
  /** One key's taps (a person's; or one medium on one vehicle) in [loadedFromMs, loadedToMs), sorted by (at, tapId). */
  taps: readonly T[];
  /** -Infinity when everything before is loaded. */
  loadedFromMs: number;
  /** +Infinity when everything after is loaded. */
  loadedToMs: number;
  /** The changed stretch (inclusive): new taps' times, a rating's tap time, a period. */
  changedFromMs: number;
  changedToMs: number;
  /** Tap ids that start a group in the stored derivation. */
  storedStarts: ReadonlySet<number>;
  /** True when taps at or after changedFrom may have left the key (a binding changed). */
  removals?: boolean;
  windowSeconds: number;
}

/** A position in (time, tap id) order; tapId 0 sorts before any tap at that time. */
export interface TapPosition {
  at: number;
  tapId: number;
}

export type RegroupPlan<T extends RideTap> =
  | { kind: 'extend-back' }
  | { kind: 'extend-forward' }
  | {
      kind: 'ready';
      /** Stored groups starting in [deleteFrom, deleteTo) are replaced by `groups`; null = unbounded. */
      deleteFrom: TapPosition | null;
      deleteTo: TapPosition | null;
      groups: Ride<T>[];
    };

/**
 * Which stretch of a key's taps to regroup after a change in [changedFrom, changedTo].
 *
 * Grouping is sequential and anchored at each group's first tap, so the stretch must start where the
 * stored derivation surely started a group: a tap at least a window after the tap before it (a gap:
 * no group can reach across it), or a tap that starts a group regardless (`startsRideRegardless`)
 * and that the stored derivation started a group with. It ends at the first new group start after
 * the change that is such a point too: from a group start on, grouping depends only on the taps
 * after it, which the change did not touch. A loaded window that holds no tap for a full window
 * before the change (or after the last tap) is a gap as well. When the loaded taps do not reach such
 * points the caller loads a wider window and asks again.
 */
export function planRegroup<T extends RideTap>(input: RegroupInput<T>): RegroupPlan<T> {
  const { taps, storedStarts, windowSeconds } = input;
  const w = windowSeconds * 1000;
  const len = taps.length;
  const from = input.loadedFromMs;
  let firstChanged = 0;
  while (firstChanged < len && taps[firstChanged]!.at < input.changedFromMs) firstChanged++;

  let start = -1;
  let deleteFrom: TapPosition | null = null;
  const changedFrom: TapPosition = { at: input.changedFromMs, tapId: 0 };
  if (input.changedFromMs === -Infinity) {
    start = 0;
  } else if (firstChanged === 0 && input.changedFromMs - input.loadedFromMs >= w) {
    start = 0;
    deleteFrom = changedFrom;
  } else if (
    firstChanged > 0 &&
    firstChanged < len &&
    !input.removals &&
    hasGapBefore(taps, firstChanged, w, from)
  ) {
    start = firstChanged;
    deleteFrom = changedFrom;
  } else {
    for (let i = firstChanged - 1; i >= 0; i--) {
      if (
        hasGapBefore(taps, i, w, from) ||
        (i > 0 &&
          startsRideRegardless(taps[i - 1], taps[i]!, windowSeconds) &&
          storedStarts.has(taps[i]!.tapId))
      ) {
        start = i;
        deleteFrom = { at: taps[i]!.at, tapId: taps[i]!.tapId };
        break;
      }
    }
    if (start < 0) {
      if (input.loadedFromMs !== -Infinity) return { kind: 'extend-back' };
      start = 0;
    }
  }

  const groups = groupRides(start === 0 ? taps : taps.slice(start), windowSeconds);
  let index = start;
  for (let g = 0; g < groups.length; g++) {
    const first = groups[g]!.first;
    if (
      first.at > input.changedToMs &&
      (hasGapBefore(taps, index, w, from) || storedStarts.has(first.tapId))
    ) {
      return {
        kind: 'ready',
        deleteFrom,
        deleteTo: { at: first.at, tapId: first.tapId },
        groups: groups.slice(0, g),
      };
    }
    index += groups[g]!.taps.length;
  }
  if (input.loadedToMs === Infinity) return { kind: 'ready', deleteFrom, deleteTo: null, groups };
  const last = len > 0 ? taps[len - 1]!.at : Math.max(input.changedToMs, input.loadedFromMs);
  if (input.loadedToMs > input.changedToMs && input.loadedToMs - last >= w) {
    return { kind: 'ready', deleteFrom, deleteTo: { at: input.loadedToMs, tapId: 0 }, groups };
  }
  return { kind: 'extend-forward' };
}

/** (A plain function, not a closure: the recompute plans hundreds of thousands of keys.) A gap of at least a window before tap i (or, for the first tap, after the loaded window's start). */
function hasGapBefore(taps: readonly RideTap[], i: number, w: number, loadedFromMs: number): boolean {
  return i > 0 ? taps[i]!.at - taps[i - 1]!.at >= w : taps[0]!.at - loadedFromMs >= w;
}
