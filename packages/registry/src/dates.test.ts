import { describe, expect, it } from 'vitest';
import { endOfDateExclusive, parseCalendarDate, parseEnd, parseStart } from './dates';

describe('registry dates', () => {
  it('accepts real calendar dates only', () => {
    expect(parseCalendarDate('2024-02-29')).toBe('2024-02-29');
    expect(parseCalendarDate('2023-02-29')).toBeNull();
    expect(parseCalendarDate('2022-13-01')).toBeNull();
    expect(parseCalendarDate('2022-1-01')).toBeNull();
    expect(parseCalendarDate('2022-01-01T00:00:00+08:00')).toBeNull();
  });

  it('reads a date as Shanghai 00:00 when it starts, and through the whole day when it ends', () => {
    expect(parseStart('2022-05-15')!.toISOString()).toBe('2022-05-14T16:00:00.000Z');
    expect(parseEnd('2022-05-14')!.toISOString()).toBe('2022-05-14T16:00:00.000Z');
    expect(endOfDateExclusive('2022-12-31').toISOString()).toBe('2022-12-31T16:00:00.000Z');
  });

  it('reads an ISO date-time with offset as an instant, and refuses one without', () => {
    expect(parseEnd('2022-05-14T10:30:00+08:00')!.toISOString()).toBe('2022-05-14T02:30:00.000Z');
    expect(parseStart('2022-05-14T10:30:00Z')!.toISOString()).toBe('2022-05-14T10:30:00.000Z');
    expect(parseStart('2022-05-14T10:30:00')).toBeNull();
    expect(parseStart('yesterday')).toBeNull();
  });
});
