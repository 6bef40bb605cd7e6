/**
 * Dates and instants at the registry's edges. A bare date is a Shanghai calendar date: as a start it
 * means that day's 00:00, as an end it is inclusive (valid through that day, so the range ends at
 * the next day's 00:00), as SPEC §5 says for imports. An ISO date-time with an offset is an instant
 * and an end is exclusive.
 */
import { DateTime } from 'luxon';
import { ZONE } from '@ridetally/domain';

const INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** A valid yyyy-MM-dd calendar date, or null. Plain arithmetic: imports call this per row. */
export function parseCalendarDate(text: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return null;
  const y = Number(m[1]);
  const month = Number(m[2]) - 1;
  const d = Number(m[3]);
  const date = new Date(Date.UTC(y, month, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === month && date.getUTCDate() === d ? text : null;
}

const startCache = new Map<string, number>();

/** 00:00 Asia/Shanghai of a calendar date (cached: imports repeat the same few dates). */
export function startOfDate(date: string): Date {
  let ms = startCache.get(date);
  if (ms === undefined) {
    ms = DateTime.fromISO(date, { zone: ZONE }).startOf('day').toMillis();
    if (startCache.size > 50_000) startCache.clear();
    startCache.set(date, ms);
  }
  return new Date(ms);
}

/** The instant just after an inclusive end date: the next day's 00:00 in Shanghai. */
export function endOfDateExclusive(date: string): Date {
  return startOfDate(DateTime.fromISO(date, { zone: 'UTC' }).plus({ days: 1 }).toISODate()!);
}

/** Parses a date (start of day) or an instant; null when neither. */
export function parseStart(text: string): Date | null {
  if (parseCalendarDate(text)) return startOfDate(text);
  return parseInstant(text);
}

/** Parses a date (inclusive: next day's start) or an instant (exclusive end); null when neither. */
export function parseEnd(text: string): Date | null {
  if (parseCalendarDate(text)) return endOfDateExclusive(text);
  return parseInstant(text);
}

export function parseInstant(text: string): Date | null {
  if (!INSTANT_RE.test(text)) return null;
  const d = DateTime.fromISO(text, { setZone: true });
  return d.isValid ? d.toJSDate() : null;
}

/** Shanghai date-time for messages, e.g. 2022-05-01 00:00. */
export function formatShanghai(instant: Date | null): string {
  if (!instant) return 'open-ended';
  return DateTime.fromJSDate(instant).setZone(ZONE).toFormat('yyyy-MM-dd HH:mm');
}
