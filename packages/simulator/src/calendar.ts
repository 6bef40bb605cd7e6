/**
 * Shanghai calendar arithmetic for the simulator and its oracle. China has kept UTC+8 without
 * daylight saving since 1991, so a fixed offset is exact for every programme date; the oracle uses
 * this rather than the domain's luxon helpers so that it stays an independent reading of the SPEC
 * (a test checks the two agree at quarter boundaries).
 */
export const SHANGHAI_OFFSET_MS = 8 * 3600_000;
export const DAY_MS = 86_400_000;

/** yyyy-MM-dd of the Shanghai calendar day holding the instant. */
export function shanghaiDateOf(ms: number): string {
  return new Date(ms + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
}

/** The instant a Shanghai calendar day (yyyy-MM-dd) starts. */
export function startOfShanghaiDay(date: string): number {
  const ms = Date.parse(`${date}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(ms))
    throw new RangeError(`not a calendar date: ${date}`);
  return ms - SHANGHAI_OFFSET_MS;
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Days from a to b (b − a). */
export function daysBetween(a: string, b: string): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / DAY_MS);
}

/** 0 = Sunday … 6 = Saturday. */
export function weekdayOf(date: string): number {
  return new Date(`${date}T00:00:00Z`).getUTCDay();
}

/** `2022-Q3` of an instant (Shanghai calendar quarter). */
export function quarterLabelOf(ms: number): string {
  const date = shanghaiDateOf(ms);
  return `${date.slice(0, 4)}-Q${Math.ceil(Number(date.slice(5, 7)) / 3)}`;
}

export function yearLabelOf(ms: number): string {
  return shanghaiDateOf(ms).slice(0, 4);
}

/** ISO 8601 with the +08:00 offset, second precision, as validators send it. */
export function formatShanghaiTime(ms: number): string {
  return `${new Date(ms + SHANGHAI_OFFSET_MS).toISOString().slice(0, 19)}+08:00`;
}

/**
 * Chinese public holidays (法定节假日) and the weekend days worked in exchange (调休上班) as the
 * State Council's notices set them for 2022-2024. Other years: weekends only.
 */
const HOLIDAYS: Record<string, { off: string[]; workdays: string[] }> = {
  '2022': {
    off: ['01-01:3', '01-31:7', '04-03:3', '04-30:5', '06-03:3', '09-10:3', '10-01:7'],
    workdays: ['01-29', '01-30', '04-02', '04-24', '05-07', '10-08', '10-09'],
  },
  '2023': {
    off: ['01-01:2', '01-21:7', '04-05:1', '04-29:5', '06-22:3', '09-29:8', '12-30:2'],
    workdays: ['01-28', '01-29', '04-23', '05-06', '06-25', '10-07', '10-08'],
  },
  '2024': {
    off: ['01-01:1', '02-10:8', '04-04:3', '05-01:5', '06-10:1', '09-15:3', '10-01:7'],
    workdays: ['02-04', '02-18', '04-07', '04-28', '05-11', '09-14', '09-29', '10-12'],
  },
};

const offDays = new Set<string>();
const workDays = new Set<string>();
for (const [year, { off, workdays }] of Object.entries(HOLIDAYS)) {
  for (const span of off) {
    const [start, length] = span.split(':') as [string, string];
    for (let i = 0; i < Number(length); i++) offDays.add(addDays(`${year}-${start}`, i));
  }
  for (const day of workdays) workDays.add(`${year}-${day}`);
}

export type DayKind = 'workday' | 'weekend' | 'holiday';

/** Whether people work on a Shanghai date: public holidays and make-up workdays included. */
export function dayKindOf(date: string): DayKind {
  if (offDays.has(date)) return 'holiday';
  if (workDays.has(date)) return 'workday';
  const weekday = weekdayOf(date);
  return weekday === 0 || weekday === 6 ? 'weekend' : 'workday';
}
