/**
 * Programme periods: calendar quarters and years in Asia/Shanghai. The programme starts
 * 2022-04-01 00:00 local, so 2022's year has Q2-Q4 only.
 */
import { DateTime } from 'luxon';

export const ZONE = 'Asia/Shanghai';
export const PROGRAMME_START_ISO = '2022-04-01T00:00:00+08:00';
export const PROGRAMME_START = DateTime.fromISO(PROGRAMME_START_ISO, { zone: ZONE });

export type Quarter = 1 | 2 | 3 | 4;
export type Period =
  | { kind: 'quarter'; year: number; quarter: Quarter }
  | { kind: 'year'; year: number };

export class PeriodError extends Error {
  override name = 'PeriodError';
}

/** Parses `2022-Q3` or `2022`. */
export function parsePeriod(text: string): Period {
  const q = /^(\d{4})-Q([1-4])$/.exec(text);
  if (q) return { kind: 'quarter', year: Number(q[1]), quarter: Number(q[2]) as Quarter };
  const y = /^(\d{4})$/.exec(text);
  if (y) return { kind: 'year', year: Number(y[1]) };
  throw new PeriodError(`period must look like 2022-Q3 or 2022, got "${text.slice(0, 20)}"`);
}

export function formatPeriod(p: Period): string {
  return p.kind === 'quarter' ? `${p.year}-Q${p.quarter}` : String(p.year);
}

/** Half-open [start, end) instants of a period, clipped to the programme start. */
export function periodBounds(p: Period): { start: DateTime; end: DateTime } {
  const base =
    p.kind === 'quarter'
      ? DateTime.fromObject({ year: p.year, month: (p.quarter - 1) * 3 + 1, day: 1 }, { zone: ZONE })
      : DateTime.fromObject({ year: p.year, month: 1, day: 1 }, { zone: ZONE });
  const end = base.plus(p.kind === 'quarter' ? { months: 3 } : { years: 1 });
  const start = base < PROGRAMME_START ? PROGRAMME_START : base;
  return { start, end };
}

/** The quarter and year an instant belongs to (Shanghai calendar). */
export function periodsOf(instant: Date | DateTime): { quarter: Period; year: Period } {
  const t = (instant instanceof Date ? DateTime.fromJSDate(instant) : instant).setZone(ZONE);
  return {
    quarter: { kind: 'quarter', year: t.year, quarter: Math.ceil(t.month / 3) as Quarter },
    year: { kind: 'year', year: t.year },
  };
}

/** Labels (`2022-Q3`, `2022`) of the periods an instant counts in. */
export function periodLabelsOf(instant: Date | DateTime): { quarter: string; year: string } {
  const { quarter, year } = periodsOf(instant);
  return { quarter: formatPeriod(quarter), year: formatPeriod(year) };
}

/** Shanghai calendar date (yyyy-MM-dd) of an instant. */
export function shanghaiDate(instant: Date | DateTime): string {
  return (instant instanceof Date ? DateTime.fromJSDate(instant) : instant).setZone(ZONE).toISODate()!;
}

/** Start of a Shanghai calendar date (yyyy-MM-dd) as an instant. */
export function startOfShanghaiDate(isoDate: string): DateTime {
  const d = DateTime.fromISO(isoDate, { zone: ZONE });
  if (!d.isValid) throw new PeriodError(`not a calendar date: "${isoDate.slice(0, 20)}"`);
  return d.startOf('day');
}

/** The quarters inside a period (a quarter is its own only member). */
export function quartersOf(p: Period): Period[] {
  if (p.kind === 'quarter') return [p];
  const qs: Period[] = [];
  for (const quarter of [1, 2, 3, 4] as const) {
    const q: Period = { kind: 'quarter', year: p.year, quarter };
    if (periodBounds(q).end > PROGRAMME_START) qs.push(q);
  }
  return qs;
}

/** True once `now` is past the period's end plus the grace period (R12). */
export function isPeriodClosed(p: Period, now: Date, graceDays: number): boolean {
  return DateTime.fromJSDate(now) >= periodBounds(p).end.plus({ days: graceDays });
}
