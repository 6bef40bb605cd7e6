/**
 * Dates and instants at the registry's edges. A bare date is a Shanghai calendar date: as a start it
 * means that day's 00:00, as an end it is inclusive (valid through that day, so the range ends at
 * the next day's 00:00), as SPEC §5 says for imports. An ISO date-time with an offset is an instant
 * and an end is exclusive.
 */
import { DateTime } from 'luxon';
import { ZONE } from '@ridetally/domain';

export const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** A valid yyyy-MM-dd calendar date, or null. */
export function parseCalendarDate(text: string): string | null {
  if (!DATE_RE.test(text)) return null;
  const d = DateTime.fromISO(text, { zone: ZONE });
  return d.isValid ? text : null;
}

export function startOfDate(date: string): Date {
  return DateTime.fromISO(date, { zone: ZONE }).startOf('day').toJSDate();
}

/** The instant just after an inclusive end date: the next day's 00:00 in Shanghai. */
export function endOfDateExclusive(date: string): Date {
  return DateTime.fromISO(date, { zone: ZONE }).startOf('day').plus({ days: 1 }).toJSDate();
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
