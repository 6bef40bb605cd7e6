/**
 * R13 anomalies, flagged for the office and never dropped: more than `anomalyMaxRidesPerDay` counted
 * rides on one Shanghai day; two rides of one person on different vehicles less than
 * `anomalyTwoVehiclesSeconds` apart (first taps); ratings that match none of the person's rides.
 */
import { shanghaiDateOfMs } from './eligibility';

export interface AnomalyRide {
  firstTapId: number;
  atMs: number;
  vehicleId: string;
  counted: boolean;
  tapIds: readonly number[];
}

/** Consecutive rides (in time order) on different vehicles with first taps less than `seconds` apart. */
export function findTwoVehicleRides<R extends AnomalyRide>(
  rides: readonly R[],
  seconds: number,
): { a: R; b: R }[] {
  const sorted = [...rides].sort((x, y) => x.atMs - y.atMs || x.firstTapId - y.firstTapId);
  const out: { a: R; b: R }[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (a.vehicleId !== b.vehicleId && b.atMs - a.atMs < seconds * 1000) out.push({ a, b });
  }
  return out;
}

/** Shanghai days with more than `max` counted rides. */
export function findBusyDays(rides: readonly AnomalyRide[], max: number): { date: string; rides: number }[] {
  const perDay = new Map<string, number>();
  for (const r of rides)
    if (r.counted) perDay.set(shanghaiDateOfMs(r.atMs), (perDay.get(shanghaiDateOfMs(r.atMs)) ?? 0) + 1);
  return [...perDay].filter(([, n]) => n > max).map(([date, n]) => ({ date, rides: n }));
}

/** Ratings whose tap is in none of the person's rides. */
export function findUnmatchedRatings<R extends { tapId: number }>(
  ratings: readonly R[],
  rides: readonly AnomalyRide[],
): R[] {
  const taps = new Set<number>();
  for (const r of rides) for (const t of r.tapIds) taps.add(t);
  return ratings.filter((r) => !taps.has(r.tapId));
}
