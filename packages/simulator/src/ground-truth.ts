/**
 * The oracle: what SPEC R1-R6 and R14 give for a city's traffic, written from the SPEC text alone
 * (not from the aggregator's code nor the domain's ride grouping) so that it can catch them out.
 *
 * R1 a tap is a person's when its medium is bound to them at the tap's instant (bindings from the
 *    media file: Shanghai dates inclusive → [from 00:00, to+1 00:00)).
 * R2 the person is in service on the ride's Shanghai date with an employer of an eligible type in
 *    the city area.
 * R3 the ride's route (its first tap's) is a city-area line.
 * R4 a person's taps in time order: a tap joins the current ride when it is on the same vehicle and
 *    less than 30 min after the ride's first tap; otherwise it starts a new ride.
 * R5 some tap of the ride has a rating with ride time ≤ ratedAt ≤ ride time + 7 days.
 * R6 count = rides meeting all of the above, per quarter and year of the ride's time.
 * R14 every tap is a boarding unless the same medium tapped the same vehicle at most 120 s before.
 *
 * Feed taps in time order (a person's taps must not go back in time; this is checked).
 */
import {
  addDays,
  DAY_MS,
  quarterLabelOf,
  SHANGHAI_OFFSET_MS,
  shanghaiDateOf,
  startOfShanghaiDay,
  yearLabelOf,
} from './calendar';
import type { SimCity } from './city.model';

export interface OracleRules {
  rideGroupSeconds: number;
  ratingWindowDays: number;
  eligibleEmployerTypes: readonly string[];
  volumeRepeatSeconds: number;
}

/** SPEC §2 defaults, restated here on purpose (the oracle does not read the domain's rules). */
export const ORACLE_RULES: OracleRules = {
  rideGroupSeconds: 30 * 60,
  ratingWindowDays: 7,
  eligibleEmployerTypes: ['agency', 'institution', 'soe'],
  volumeRepeatSeconds: 120,
};

export interface OracleTap {
  tappedAt: number;
  vehicleId: string;
  routeId: string;
  media: { type: string; id: string };
  ratings: readonly { ratedAt: number }[] | null;
}

export interface PersonCount {
  rides: number;
  /** Time of the last counted ride (R7 first-reached tie-break). */
  lastCountedAt: number;
}

export type RideOutcome = 'counted' | 'not_eligible' | 'not_city_route' | 'not_rated';

export interface GroundTruth {
  /** period label (`2022-Q2`, `2022`) → person ref → count; only persons with ≥ 1 counted ride. */
  counts: Map<string, Map<string, PersonCount>>;
  /** `yyyy-MM-dd|routeId` → boardings and taps (R14). */
  volume: Map<string, { boardings: number; taps: number }>;
  totals: { taps: number; boardings: number; unboundTaps: number; rides: Record<RideOutcome, number> };
}

interface OpenRide {
  firstAt: number;
  vehicleId: string;
  routeId: string;
  rated: boolean;
  lastAt: number;
}

interface Binding {
  ref: string;
  from: number;
  to: number;
}

interface Employment {
  from: string;
  to: string | null;
  eligible: boolean;
}

export interface Oracle {
  add(tap: OracleTap): void;
  finish(): GroundTruth;
}

export function createOracle(
  city: Pick<SimCity, 'persons' | 'employers' | 'routes'>,
  rules: OracleRules = ORACLE_RULES,
): Oracle {
  const bindings = new Map<string, Binding[]>();
  const employments = new Map<string, Employment[]>();
  const employers = new Map(city.employers.map((e) => [e.code, e]));
  for (const person of city.persons) {
    if (!person.registered) continue;
    for (const m of person.media) {
      if (m.validFrom === null) continue;
      const key = `${m.type}\u0000${m.id}`;
      const list = bindings.get(key) ?? [];
      list.push({
        ref: person.ref,
        from: startOfShanghaiDay(m.validFrom),
        to: m.validTo === null ? Infinity : startOfShanghaiDay(addDays(m.validTo, 1)),
      });
      bindings.set(key, list);
    }
    employments.set(
      person.ref,
      person.employments.map((e) => {
        const employer = employers.get(e.employerCode);
        return {
          from: e.from,
          to: e.to,
          eligible: !!employer && employer.cityArea && rules.eligibleEmployerTypes.includes(employer.type),
        };
      }),
    );
  }
  const cityRoutes = new Set(city.routes.filter((r) => r.isCity).map((r) => r.routeId));
  const windowMs = rules.rideGroupSeconds * 1000;
  const ratingMs = rules.ratingWindowDays * DAY_MS;

  const open = new Map<string, OpenRide>();
  const lastTapOfMedium = new Map<string, { vehicleId: string; at: number }>();
  const counts = new Map<string, Map<string, PersonCount>>();
  const volume = new Map<string, { boardings: number; taps: number }>();
  const totals: GroundTruth['totals'] = {
    taps: 0,
    boardings: 0,
    unboundTaps: 0,
    rides: { counted: 0, not_eligible: 0, not_city_route: 0, not_rated: 0 },
  };

  // Shanghai date strings by day number: formatting a date per tap is the oracle's hot spot.
  const dates = new Map<number, string>();
  const dateOf = (ms: number): string => {
    const day = Math.floor((ms + SHANGHAI_OFFSET_MS) / DAY_MS);
    let date = dates.get(day);
    if (date === undefined) dates.set(day, (date = shanghaiDateOf(ms)));
    return date;
  };

  const isEligible = (ref: string, at: number): boolean => {
    const date = dateOf(at);
    return (employments.get(ref) ?? []).some(
      (e) => e.eligible && e.from <= date && (e.to === null || date <= e.to),
    );
  };

  const close = (ref: string, ride: OpenRide): void => {
    let outcome: RideOutcome = 'counted';
    if (!isEligible(ref, ride.firstAt)) outcome = 'not_eligible';
    else if (!cityRoutes.has(ride.routeId)) outcome = 'not_city_route';
    else if (!ride.rated) outcome = 'not_rated';
    totals.rides[outcome]++;
    if (outcome !== 'counted') return;
    for (const period of [quarterLabelOf(ride.firstAt), yearLabelOf(ride.firstAt)]) {
      let perPeriod = counts.get(period);
      if (!perPeriod) counts.set(period, (perPeriod = new Map<string, PersonCount>()));
      const c = perPeriod.get(ref);
      if (c) {
        c.rides++;
        c.lastCountedAt = Math.max(c.lastCountedAt, ride.firstAt);
      } else perPeriod.set(ref, { rides: 1, lastCountedAt: ride.firstAt });
    }
  };

  const ownerOf = (tap: OracleTap): string | undefined =>
    bindings
      .get(`${tap.media.type}\u0000${tap.media.id}`)
      ?.find((b) => b.from <= tap.tappedAt && tap.tappedAt < b.to)?.ref;

  const isRatedFor = (tap: OracleTap, rideAt: number): boolean =>
    (tap.ratings ?? []).some((r) => rideAt <= r.ratedAt && r.ratedAt <= rideAt + ratingMs);

  return {
    add(tap) {
      // R14
      totals.taps++;
      const mediumKey = `${tap.media.type}\u0000${tap.media.id}`;
      const previous = lastTapOfMedium.get(mediumKey);
      const boarding = !(
        previous &&
        previous.vehicleId === tap.vehicleId &&
        tap.tappedAt - previous.at <= rules.volumeRepeatSeconds * 1000
      );
      lastTapOfMedium.set(mediumKey, { vehicleId: tap.vehicleId, at: tap.tappedAt });
      const volumeKey = `${dateOf(tap.tappedAt)}|${tap.routeId}`;
      const v = volume.get(volumeKey) ?? { boardings: 0, taps: 0 };
      v.taps++;
      if (boarding) {
        v.boardings++;
        totals.boardings++;
      }
      volume.set(volumeKey, v);

      // R1, R4, R5
      const ref = ownerOf(tap);
      if (!ref) {
        totals.unboundTaps++;
        return;
      }
      const ride = open.get(ref);
      if (ride && tap.tappedAt < ride.lastAt) throw new Error(`oracle fed out of time order for ${ref}`);
      if (ride && ride.vehicleId === tap.vehicleId && tap.tappedAt - ride.firstAt < windowMs) {
        ride.lastAt = tap.tappedAt;
        ride.rated ||= isRatedFor(tap, ride.firstAt);
        return;
      }
      if (ride) close(ref, ride);
      open.set(ref, {
        firstAt: tap.tappedAt,
        vehicleId: tap.vehicleId,
        routeId: tap.routeId,
        rated: isRatedFor(tap, tap.tappedAt),
        lastAt: tap.tappedAt,
      });
    },
    finish() {
      for (const [ref, ride] of open) close(ref, ride);
      open.clear();
      return { counts, volume, totals };
    },
  };
}

/** Shared-rank ranking (R7 default: 1, 2, 2, 4) of one period's counts, best first. */
export function rankShared(
  counts: Map<string, PersonCount>,
): { ref: string; rank: number; rides: number; lastCountedAt: number }[] {
  const rows = [...counts].map(([ref, c]) => ({
    ref,
    rides: c.rides,
    lastCountedAt: c.lastCountedAt,
    rank: 0,
  }));
  rows.sort((a, b) => b.rides - a.rides || (a.ref < b.ref ? -1 : 1));
  rows.forEach((row, i) => {
    row.rank = i > 0 && rows[i - 1]!.rides === row.rides ? rows[i - 1]!.rank : i + 1;
  });
  return rows;
}
