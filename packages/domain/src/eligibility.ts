/**
 * R2 / R3 / R5 judged for one ride, at the ride's time (its first tap). Pure: the facts are passed in.
 * R1 is already applied by the caller: the taps given for a person are those of media bound to them
 * at each tap's time.
 */
import type { EmployerType, Rules } from './rules';

/** One in-service interval (在职) with its employer's attributes, as Shanghai dates [from, toExclusive). */
export interface EmploymentSpan {
  fromDate: string;
  /** Exclusive end date (`to + 1`), null when open-ended. */
  toDateExclusive: string | null;
  employerType: EmployerType;
  employerCityArea: boolean;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const SHANGHAI_OFFSET_MS = 8 * HOUR_MS;

/**
 * Shanghai calendar date (yyyy-MM-dd) of an epoch-ms instant. Asia/Shanghai has been UTC+8 without
 * daylight saving since 1991, and the programme starts in 2022, so a fixed offset is exact here; it
 * is tested against luxon. (luxon per ride would dominate the full recompute's cost.)
 */
export function shanghaiDateOfMs(ms: number): string {
  // Memoised per Shanghai day: the recompute asks for every tap and ride (a profile showed ~5 % of its CPU here).
  const day = Math.floor((ms + SHANGHAI_OFFSET_MS) / DAY_MS);
  let date = dateOfDay.get(day);
  if (date === undefined) {
    date = new Date(day * DAY_MS).toISOString().slice(0, 10);
    if (dateOfDay.size >= 100_000) dateOfDay.clear();
    dateOfDay.set(day, date);
  }
  return date;
}

const dateOfDay = new Map<number, string>();

/** Quarter label (`2022-Q3`) and year label of an epoch-ms instant in Shanghai (fixed +8, see above). */
export function periodLabelsOfMs(ms: number): PeriodLabels {
  // Memoised per Shanghai day like the date: one shared (frozen) answer and one copy of each label
  // per day, not a Date and two new strings per ride.
  const day = Math.floor((ms + SHANGHAI_OFFSET_MS) / DAY_MS);
  let labels = labelsOfDay.get(day);
  if (labels === undefined) {
    const d = new Date(day * DAY_MS);
    const y = d.getUTCFullYear();
    labels = Object.freeze({
      quarter: `${y}-Q${Math.floor(d.getUTCMonth() / 3) + 1}`,
      year: String(y),
      yearNumber: y,
    });
    if (labelsOfDay.size >= 100_000) labelsOfDay.clear();
    labelsOfDay.set(day, labels);
  }
  return labels;
}

export interface PeriodLabels {
  readonly quarter: string;
  readonly year: string;
  readonly yearNumber: number;
}

const labelsOfDay = new Map<number, PeriodLabels>();

/** R2: employed and in service on the ride's Shanghai date by an eligible employer type in the city area. */
export function isPersonEligibleOn(
  date: string,
  employments: readonly EmploymentSpan[],
  rules: Rules,
): boolean {
  for (const e of employments) {
    if (e.fromDate > date) continue;
    if (e.toDateExclusive !== null && date >= e.toDateExclusive) continue;
    return e.employerCityArea && rules.eligibleEmployerTypes.includes(e.employerType);
  }
  return false;
}

/** R3: a city-area route in the registry. An unregistered route is not eligible until registered. */
export function isRouteEligible(routeId: string, cityRoutes: ReadonlySet<string>): boolean {
  return cityRoutes.has(routeId);
}

/** R5: rated with ride time ≤ ratedAt ≤ ride time + ratingWindowDays. Any score counts. */
export function isRatedInWindow(rideAtMs: number, ratedAtMs: ArrayLike<number>, rules: Rules): boolean {
  const last = rideAtMs + rules.ratingWindowDays * DAY_MS;
  for (let i = 0; i < ratedAtMs.length; i++) {
    const r = ratedAtMs[i]!;
    if (r >= rideAtMs && r <= last) return true;
  }
  return false;
}
