/**
 * Day-by-day traffic for a city: who rides when, on which bus, tapping what, and how they rate.
 * A generator over days: at scale 1 a day is ~110,000 taps and only one day is held at a time.
 */
import { addDays, dayKindOf, DAY_MS, startOfShanghaiDay } from './calendar';
import { PATTERNS, TRANSFER_RATE } from './city.generator';
import type { SimCity, SimMedium, SimPerson, SimRoute, SimVehicle } from './city.model';
import { createRng, type Rng } from './prng';
import type { DayTraffic, SimRating, SimTap } from './traffic.model';

export const DOUBLE_TAP_RATE = 0.03;
export const TWO_CARD_RATE = 0.5;
/** Rating outcomes for a ride the rider means to rate (cumulative shares). */
export const RATING_OUTCOMES = [
  ['within_day', 0.8],
  ['within_week', 0.9],
  ['exactly_7_days', 0.92],
  ['one_second_late', 0.94],
  ['after_window', 1],
] as const;
export const LATE_FORWARD_RATE = 0.05;

const MINUTE = 60_000;
const SERVICE_START = 6 * 60;
const SERVICE_END = 22 * 60;

interface CityIndex {
  routes: Map<string, SimRoute>;
  vehiclesByRoute: Map<string, SimVehicle[]>;
  cityRouteIds: string[];
  airport: string | undefined;
  intercity: string[];
}

function indexCity(city: SimCity): CityIndex {
  const vehiclesByRoute = new Map<string, SimVehicle[]>();
  for (const v of city.vehicles) {
    const list = vehiclesByRoute.get(v.routeId) ?? [];
    list.push(v);
    vehiclesByRoute.set(v.routeId, list);
  }
  return {
    routes: new Map(city.routes.map((r) => [r.routeId, r])),
    vehiclesByRoute,
    cityRouteIds: city.routes.filter((r) => r.kind === 'city').map((r) => r.routeId),
    airport: city.routes.find((r) => r.kind === 'airport')?.routeId,
    intercity: city.routes.filter((r) => r.kind === 'intercity').map((r) => r.routeId),
  };
}

function isBoundOn(m: SimMedium, date: string): boolean {
  return m.validFrom !== null && m.validFrom <= date && (m.validTo === null || date <= m.validTo);
}

/** The media a person carries on a date: bound ones, or before registering their first card. */
function walletOn(person: SimPerson, date: string): SimMedium[] {
  const only = person.media.length === 1 ? person.media[0]! : undefined;
  if (only && isBoundOn(only, date)) return person.media;
  const bound = person.media.filter((m) => isBoundOn(m, date));
  if (bound.length > 0) return bound;
  const first = person.media[0];
  return first && (first.validTo === null || date <= first.validTo) ? [first] : [];
}

function tripCount(rng: Rng, person: SimPerson, workday: boolean): number {
  if (person.pattern === 'none') return 0;
  const p = PATTERNS[person.pattern];
  if (person.pattern === 'commuter' && workday) return rng.chance(0.05) ? 0 : 2;
  return rng.poisson(workday ? p.workday : p.offDay);
}

/** Minutes after midnight of each trip, ascending. */
function tripTimes(rng: Rng, person: SimPerson, count: number, workday: boolean): number[] {
  const clamp = (m: number): number => Math.min(SERVICE_END - 30, Math.max(SERVICE_START, Math.round(m)));
  if (person.pattern === 'commuter' && workday && count === 2) {
    return [clamp(rng.normal(7 * 60 + 40, 25)), clamp(rng.normal(17 * 60 + 50, 40))];
  }
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(SERVICE_START + rng.int(SERVICE_END - 30 - SERVICE_START));
  return times.sort((a, b) => a - b);
}

function pickRoute(rng: Rng, person: SimPerson, index: CityIndex, leg: number, tripNo: number): string {
  if (person.pattern === 'commuter') {
    const outbound = tripNo % 2 === 0;
    const first = outbound ? person.homeRouteId : person.workRouteId;
    const second = outbound ? person.workRouteId : person.homeRouteId;
    return leg === 0 ? first : second;
  }
  const u = rng.next();
  if (u < 0.03 && index.airport) return index.airport;
  if (u < 0.05 && index.intercity.length > 0) return rng.pick(index.intercity);
  if (u < 0.2 && leg === 0) return person.homeRouteId;
  return rng.pick(index.cityRouteIds);
}

function ratingFor(rng: Rng, person: SimPerson, tap: SimTap, rideStart: number): SimRating | null {
  if (!rng.chance(person.ratingPropensity)) return null;
  const u = rng.next();
  const outcome = RATING_OUTCOMES.find(([, upTo]) => u < upTo)?.[0] ?? 'after_window';
  let ratedAt: number;
  switch (outcome) {
    case 'within_day':
      ratedAt = rideStart + (1 + rng.int(24 * 60 - 1)) * MINUTE;
      break;
    case 'within_week':
      ratedAt = rideStart + DAY_MS + rng.int(6 * DAY_MS - MINUTE);
      break;
    case 'exactly_7_days':
      ratedAt = rideStart + 7 * DAY_MS;
      break;
    case 'one_second_late':
      ratedAt = rideStart + 7 * DAY_MS + 1000;
      break;
    case 'after_window':
      ratedAt = rideStart + 7 * DAY_MS + (1 + rng.int(3 * 24 * 60)) * MINUTE;
      break;
  }
  ratedAt = Math.floor(ratedAt / 1000) * 1000;
  const forwardedAt = rng.chance(LATE_FORWARD_RATE)
    ? ratedAt + (25 + rng.int(48)) * 3600_000
    : ratedAt + rng.int(120) * 1000;
  const score = rng.chance(0.6) ? 5 : 1 + rng.int(5);
  return { tap, personRef: person.ref, score, ratedAt, forwardedAt };
}

/** Generates one day's taps (without seqs) and ratings for one person. */
function generatePersonDay(
  city: SimCity,
  index: CityIndex,
  person: SimPerson,
  date: string,
  dayStart: number,
  workday: boolean,
  out: SimTap[],
  ratings: SimRating[],
): void {
  if (person.pattern === 'none' && !person.lostCard) return;
  const rng = createRng(city.seed, 'day', date, 'person', person.index);
  const wallet = walletOn(person, date);
  if (wallet.length > 0) {
    const count = tripCount(rng, person, workday);
    const times = tripTimes(rng, person, count, workday);
    let earliest = 0;
    times.forEach((minute, tripNo) => {
      let at = dayStart + minute * MINUTE + rng.int(60) * 1000;
      // Trips of one person stay apart so that no rule depends on a coincidence of the generator.
      if (at < earliest) return;
      const legs = rng.chance(TRANSFER_RATE) ? 2 : 1;
      let previousRoute = '';
      for (let leg = 0; leg < legs; leg++) {
        let routeId = pickRoute(rng, person, index, leg, tripNo);
        if (routeId === previousRoute)
          routeId = index.cityRouteIds.find((r) => r !== previousRoute) ?? routeId;
        if (routeId === previousRoute) break;
        previousRoute = routeId;
        const route = index.routes.get(routeId)!;
        const vehicle = rng.pick(index.vehiclesByRoute.get(routeId)!);
        const deviceId = rng.pick(vehicle.deviceIds);
        const stopId = rng.pick(route.stopIds);
        const primary =
          wallet.length > 1 && wallet[1]!.type === 'qr' && rng.chance(0.3) ? wallet[1]! : wallet[0]!;
        const base = {
          vehicleId: vehicle.vehicleId,
          routeId,
          stopId,
          riderRef: person.ref,
          ratings: null,
          seq: 0,
        };
        const first: SimTap = {
          ...base,
          deviceId,
          tappedAt: at,
          media: { type: primary.type, id: primary.id, kind: primary.kind },
        };
        const legTaps = [first];
        if (rng.chance(DOUBLE_TAP_RATE)) {
          legTaps.push({ ...first, tappedAt: at + (1 + rng.int(8)) * 1000 });
        }
        if (person.twoCards && rng.chance(TWO_CARD_RATE)) {
          const other = wallet.find((m) => m.type === 'transit_card' && m.id !== primary.id);
          if (other) {
            legTaps.push({
              ...base,
              deviceId: rng.pick(vehicle.deviceIds),
              tappedAt: legTaps.at(-1)!.tappedAt + (2 + rng.int(5)) * 1000,
              media: { type: other.type, id: other.id, kind: other.kind },
            });
          }
        }
        out.push(...legTaps);
        if (person.registered && isBoundOn(primary, date)) {
          const rated = legTaps.length > 1 && rng.chance(0.3) ? legTaps[1]! : first;
          const rating = ratingFor(rng, person, rated, at);
          if (rating) {
            rated.ratings = [rating];
            ratings.push(rating);
          }
        }
        at = legTaps.at(-1)!.tappedAt + (8 + rng.int(18)) * MINUTE;
      }
      earliest = at + 12 * MINUTE;
    });
  }
  // Someone found this person's lost card and keeps using it: taps that belong to nobody (R1).
  const lost = person.lostCard;
  if (lost?.found && date >= lost.date && rng.chance(0.3)) {
    const routeId = rng.pick(index.cityRouteIds);
    const vehicle = rng.pick(index.vehiclesByRoute.get(routeId)!);
    const old = person.media.find((m) => m.id === lost.mediumId)!;
    out.push({
      deviceId: rng.pick(vehicle.deviceIds),
      seq: 0,
      tappedAt: dayStart + (SERVICE_START + rng.int(SERVICE_END - SERVICE_START)) * MINUTE,
      vehicleId: vehicle.vehicleId,
      routeId,
      stopId: rng.pick(index.routes.get(routeId)!.stopIds),
      media: { type: old.type, id: old.id, kind: old.kind },
      riderRef: null,
      ratings: null,
    });
  }
}

/**
 * The city's traffic, one day at a time in date order, each day's taps sorted by time with
 * per-device sequence numbers assigned in that order.
 */
export function* generateTraffic(city: SimCity): Generator<DayTraffic> {
  const index = indexCity(city);
  const seqs = new Map<string, number>();
  for (let d = 0; d < city.days; d++) {
    const date = addDays(city.start, d);
    const dayStart = startOfShanghaiDay(date);
    const taps: SimTap[] = [];
    const ratings: SimRating[] = [];
    const workday = dayKindOf(date) === 'workday';
    for (const person of city.persons)
      generatePersonDay(city, index, person, date, dayStart, workday, taps, ratings);
    taps.sort(
      (a, b) => a.tappedAt - b.tappedAt || (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0),
    );
    for (const tap of taps) {
      const seq = (seqs.get(tap.deviceId) ?? 0) + 1;
      seqs.set(tap.deviceId, seq);
      tap.seq = seq;
    }
    yield { date, taps, ratings };
  }
}
