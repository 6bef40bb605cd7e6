/**
 * A person's rides as the rider app sees them (R1 + R4), and ratings (R5's input). The counting
 * itself (R2, R3, R5) is the aggregator's; here rides are grouped only to show them and to store a
 * rating against the ride's first tap.
 */
import { DateTime } from 'luxon';
import { findPersonTaps, findPersonTapsRated, findRatingTarget, insertRatingOnce, type PersonTapRow } from '@ridetally/db';
import {
  defaultRules,
  groupRides,
  periodLabelsOf,
  PROGRAMME_START,
  startsRideRegardless,
  ZONE,
  type Ride,
  type RideTap,
  type Rules,
} from '@ridetally/domain';
import { AppError } from '@ridetally/http';
import { endOfDateExclusive, formatShanghai, parseCalendarDate, startOfDate } from './dates';
import type { Db, RegistryDeps } from './deps';

/** The rules in force at an instant (per programme year). */
export type RulesAt = (at: Date) => Rules;
export const defaultRulesAt: RulesAt = (at) => defaultRules(DateTime.fromJSDate(at).setZone(ZONE).year);

/** Allowed clock skew of a rating's ratedAt ahead of the server clock. */
export const RATED_AT_SKEW_MS = 5 * 60_000;
/** Longest range one rides request may cover. */
export const MAX_RIDES_RANGE_DAYS = 366;

type PersonRideTap<R extends PersonTapRow = PersonTapRow> = RideTap & { row: R };

const INITIAL_LOOKBACK_MS = 6 * 3600_000;

function toRideTap<R extends PersonTapRow>(row: R): PersonRideTap<R> {
  return { tapId: row.tap_id, at: row.tapped_at.getTime(), vehicleId: row.vehicle_id, routeId: row.route_id, row };
}

/**
 * The person's rides whose first tap is in [from, to). R4 groups sequentially, so grouping must start
 * at a reset point: taps are loaded from a lookback before `from`, doubled until a tap at or before
 * `from` surely starts a ride (or the programme start is reached), and up to one window past `to` so
 * the last rides are complete.
 */
export async function findRidesOfPerson(
  db: Db,
  personId: string,
  from: Date,
  to: Date,
  rideGroupSeconds: number,
): Promise<Ride<PersonRideTap>[]> {
  return groupRidesOfPerson((loadFrom, loadTo) => findPersonTaps(db, personId, loadFrom, loadTo), from, to, rideGroupSeconds);
}

/** `findRidesOfPerson` on the taps `load` gives (one statement per lookback; usually one in all). */
async function groupRidesOfPerson<R extends PersonTapRow>(
  load: (loadFrom: Date, loadTo: Date) => Promise<R[]>,
  from: Date,
  to: Date,
  rideGroupSeconds: number,
): Promise<Ride<PersonRideTap<R>>[]> {
  const windowMs = rideGroupSeconds * 1000;
  const loadTo = new Date(to.getTime() + windowMs);
  let lookback = INITIAL_LOOKBACK_MS;
  for (;;) {
    const loadFrom = new Date(Math.max(from.getTime() - lookback, PROGRAMME_START.toMillis() - windowMs));
    const taps = (await load(loadFrom, loadTo)).map((row) => toRideTap(row));
    // Taps with at >= from start at index k; grouping from a reset point r <= k is exact for them.
    const k = taps.findIndex((t) => t.at >= from.getTime());
    if (k === -1) return [];
    // taps[0] is a reset point when the whole history is loaded, or when its (unloaded) predecessor
    // lies before loadFrom and so at least a window earlier.
    const whole = loadFrom.getTime() <= PROGRAMME_START.toMillis() - windowMs;
    let reset = whole || taps[0]!.at - loadFrom.getTime() >= windowMs ? 0 : -1;
    for (let i = k; i > reset && i >= 1; i--) {
      if (startsRideRegardless(taps[i - 1], taps[i]!, rideGroupSeconds)) {
        reset = i;
        break;
      }
    }
    if (reset >= 0) {
      return groupRides(taps.slice(reset), rideGroupSeconds).filter(
        (r) => r.first.at >= from.getTime() && r.first.at < to.getTime(),
      );
    }
    lookback *= 2;
  }
}

export interface RideView {
  tapIds: number[];
  tappedAt: string;
  routeId: string;
  vehicleId: string;
  rated: boolean;
  rateBy: string;
}

export interface ListRidesInput {
  personId: string;
  /** Shanghai dates, both inclusive */
  from: string;
  to: string;
}

export async function listRides(deps: RegistryDeps, input: ListRidesInput, rulesAt: RulesAt = defaultRulesAt): Promise<RideView[]> {
  const fromDate = parseCalendarDate(input.from);
  const toDate = parseCalendarDate(input.to);
  if (!fromDate || !toDate) throw new AppError('validation_failed', 'from and to must be calendar dates (yyyy-MM-dd, Asia/Shanghai)');
  const from = startOfDate(fromDate);
  const to = endOfDateExclusive(toDate);
  if (to <= from) throw new AppError('validation_failed', 'to must not be before from');
  if (to.getTime() - from.getTime() > MAX_RIDES_RANGE_DAYS * 86_400_000 + 3600_000) {
    throw new AppError('validation_failed', `a rides request covers at most ${MAX_RIDES_RANGE_DAYS} days`);
  }
  const rules = rulesAt(from);
  // One statement per load: the person's existence, their taps, and which taps a rating of theirs
  // names (as the rated tap or as a ride's first tap); a ride is rated when any of its taps is.
  const rides = await groupRidesOfPerson(
    async (loadFrom, loadTo) => {
      const { personFound, taps } = await findPersonTapsRated(deps.db, input.personId, loadFrom, loadTo);
      if (!personFound) throw new AppError('not_found', 'no such person');
      return taps;
    },
    from,
    to,
    rules.rideGroupSeconds,
  );
  return rides.map((r) => {
    const windowDays = rulesAt(new Date(r.first.at)).ratingWindowDays;
    return {
      tapIds: r.taps.map((t) => t.tapId),
      tappedAt: new Date(r.first.at).toISOString(),
      routeId: r.first.routeId,
      vehicleId: r.first.vehicleId,
      rated: r.taps.some((t) => t.row.rated),
      rateBy: new Date(r.first.at + windowDays * 86_400_000).toISOString(),
    };
  });
}

export interface RateRideInput {
  tapId: number;
  personId: string;
  score: number;
  comment?: string | undefined;
  /** ISO instant; default the server's time */
  ratedAt?: Date | undefined;
  clientId?: string | null;
}

export interface RateRideResult {
  ratingId: number;
  rideFirstTapId: number;
  rideTappedAt: string;
  ratedAt: string;
  receivedAt: string;
  lateForward: boolean;
}

export async function rateRide(deps: RegistryDeps, input: RateRideInput, rulesAt: RulesAt = defaultRulesAt): Promise<RateRideResult> {
  if (!Number.isInteger(input.score) || input.score < 1 || input.score > 5) {
    throw new AppError('validation_failed', 'score must be a whole number from 1 to 5', [{ path: 'score', message: 'must be 1..5' }]);
  }
  const receivedAt = deps.now();
  const ratedAt = input.ratedAt ?? receivedAt;
  if (ratedAt.getTime() > receivedAt.getTime() + RATED_AT_SKEW_MS) {
    throw new AppError('unprocessable', 'ratedAt is in the future', { reason: 'rated_at_in_future', serverTime: receivedAt.toISOString() });
  }
  const { personFound, tappedAt: tapTime } = await findRatingTarget(deps.db, input.personId, input.tapId);
  if (!personFound) throw new AppError('not_found', 'no such person');
  if (!tapTime) throw new AppError('not_found', `no tap ${input.tapId}`);
  const rules = rulesAt(tapTime);
  // The ride holding the tap starts at most one window before it.
  const rides = await findRidesOfPerson(
    deps.db,
    input.personId,
    new Date(tapTime.getTime() - rules.rideGroupSeconds * 1000),
    new Date(tapTime.getTime() + 1),
    rules.rideGroupSeconds,
  );
  const ride = rides.find((r) => r.taps.some((t) => t.tapId === input.tapId));
  if (!ride) {
    throw new AppError('unprocessable', `tap ${input.tapId} is not one of this person's rides (no medium of theirs was bound at that time)`, {
      reason: 'not_persons_tap',
    });
  }
  const rideAt = new Date(ride.first.at);
  const rideRules = rulesAt(rideAt);
  if (ratedAt < rideAt) {
    throw new AppError('unprocessable', `ratedAt is before the ride (${formatShanghai(rideAt)} Asia/Shanghai)`, { reason: 'rated_before_ride' });
  }
  const rateBy = new Date(rideAt.getTime() + rideRules.ratingWindowDays * 86_400_000);
  if (ratedAt > rateBy) {
    throw new AppError('unprocessable', `the rating window of this ride closed at ${rateBy.toISOString()} (${rideRules.ratingWindowDays} days after the ride)`, {
      reason: 'rating_window_closed',
      rateBy: rateBy.toISOString(),
    });
  }
  const lateForward = receivedAt.getTime() - ratedAt.getTime() > rideRules.lateRatingForwardHours * 3600_000;
  const ratingId = await insertRatingOnce(
    deps.db,
    {
      person_id: input.personId,
      tap_id: input.tapId,
      ride_first_tap_id: ride.first.tapId,
      ride_tapped_at: rideAt,
      score: input.score,
      comment: input.comment ?? null,
      rated_at: ratedAt,
      received_at: receivedAt,
      late_forward: lateForward,
      client_id: input.clientId ?? null,
    },
    ride.taps.map((t) => t.tapId),
    lateForward ? periodLabelsOf(rideAt).quarter : null,
  );
  if (ratingId === undefined) throw new AppError('conflict', 'this ride is already rated; the first rating stands', { reason: 'already_rated' });
  return {
    ratingId,
    rideFirstTapId: ride.first.tapId,
    rideTappedAt: rideAt.toISOString(),
    ratedAt: ratedAt.toISOString(),
    receivedAt: receivedAt.toISOString(),
    lateForward,
  };
}
