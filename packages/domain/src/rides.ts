/**
 * R4 One ride, one count. A person's taps, in time order, are cut into rides: a ride is a run of
 * consecutive taps on one vehicle that fall less than `rideGroupSeconds` after the run's first tap.
 * A tap on another vehicle (a transfer) or one at or past the window starts a new ride. Ties in time
 * are ordered by tap id so the grouping is deterministic.
 *
 * Because each ride's start depends on the ride before it, a window of taps can only be grouped
 * exactly from a "reset point": a tap that surely starts a ride (see `startsRideRegardless`).
 */
export interface RideTap {
  tapId: number;
  /** epoch milliseconds */
  at: number;
  vehicleId: string;
  routeId: string;
}

export interface Ride<T extends RideTap = RideTap> {
  /** The first tap: its id names the ride and its time is the ride's time. */
  first: T;
  taps: T[];
}

export function compareTaps(a: RideTap, b: RideTap): number {
  return a.at - b.at || a.tapId - b.tapId;
}

function isSorted(taps: readonly RideTap[]): boolean {
  for (let i = 1; i < taps.length; i++) if (compareTaps(taps[i - 1]!, taps[i]!) > 0) return false;
  return true;
}

/** Groups one person's taps into rides. Input need not be sorted; it is not modified. */
export function groupRides<T extends RideTap>(taps: readonly T[], rideGroupSeconds: number): Ride<T>[] {
  // The recompute passes hundreds of thousands of already sorted lists: no copy for them.
  const sorted = isSorted(taps) ? taps : [...taps].sort(compareTaps);
  const windowMs = rideGroupSeconds * 1000;
  const rides: Ride<T>[] = [];
  let current: Ride<T> | undefined;
  for (const tap of sorted) {
    if (current && tap.vehicleId === current.first.vehicleId && tap.at - current.first.at < windowMs) {
      current.taps.push(tap);
    } else {
      current = { first: tap, taps: [tap] };
      rides.push(current);
    }
  }
  return rides;
}

/**
 * True when `tap` starts a ride whatever came before `previous` (the person's tap just before it):
 * there is no previous tap, the vehicle changed, or the previous tap is at least a window earlier
 * (so any ride in progress began even earlier and cannot take this tap).
 */
export function startsRideRegardless(previous: RideTap | undefined, tap: RideTap, rideGroupSeconds: number): boolean {
  return !previous || previous.vehicleId !== tap.vehicleId || tap.at - previous.at >= rideGroupSeconds * 1000;
}
