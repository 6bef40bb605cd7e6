/**
 * R14 passenger volume (客运量). Every accepted tap is a boarding, except a repeat tap of the same
 * medium on the same vehicle within `volumeRepeatSeconds` (120 s) of the last *boarding* of that
 * medium on that vehicle. The window is anchored at the boarding, as R4's ride window is anchored at
 * the ride's first tap: a card tapped every 100 s for ten minutes is one boarding per 120 s window
 * (at 0, 200, 400, 600 s), not one boarding in total. Taps on other vehicles in between do not
 * matter (the key is medium and vehicle). Equal times are ordered by tap id.
 */
import { groupRides, type RideTap } from './rides';

export interface VolumeTap {
  tapId: number;
  at: number;
  routeId: string;
}

/** The boarding tap ids among one medium's taps on one vehicle. */
export function markBoardings(taps: readonly VolumeTap[], repeatSeconds: number): Set<number> {
  const asRideTaps: RideTap[] = taps.map((t) => ({
    tapId: t.tapId,
    at: t.at,
    vehicleId: '',
    routeId: t.routeId,
  }));
  return new Set(groupRides(asRideTaps, repeatSeconds).map((g) => g.first.tapId));
}

/** The grouping key of R14: one medium on one vehicle. */
export function volumeKey(mediaType: string, mediaKey: string, vehicleId: string): string {
  return `${mediaType}\u001f${mediaKey}\u001f${vehicleId}`;
}
