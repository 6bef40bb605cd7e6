import { afterEach, describe, expect, it } from 'vitest';
import { formatCny, formatDate, formatDateTime, formatNumber, periodChoices, shanghaiToday } from './format.js';
import { setLocale } from './i18n.js';

afterEach(() => setLocale('zh-CN'));

describe('console formatting', () => {
  it('groups thousands in both languages', () => {
    expect(formatNumber(35950000)).toBe('35,950,000');
    setLocale('en');
    expect(formatNumber(35950000)).toBe('35,950,000');
    expect(formatNumber(3.456, 1)).toBe('3.5');
    expect(formatNumber(null)).toBe('—');
  });

  it('writes yuan with a sign and separators', () => {
    expect(formatCny(1005400)).toBe('¥1,005,400');
    expect(formatCny('200')).toBe('¥200');
    expect(formatCny(null)).toBe('—');
  });

  it('shows instants in Shanghai time whatever the browser zone', () => {
    // 16:30 UTC is 00:30 the next day in Shanghai: the date must roll over.
    expect(formatDateTime('2022-06-30T16:30:00Z')).toBe('2022-07-01 00:30:00');
    expect(formatDate('2022-06-30T16:30:00Z')).toBe('2022-07-01');
    expect(formatDate('2022-06-30')).toBe('2022-06-30');
  });

  it('takes quarters and years from the Shanghai calendar', () => {
    expect(shanghaiToday(new Date('2022-12-31T16:00:00Z'))).toEqual({ date: '2023-01-01', year: 2023, quarter: 1 });
    expect(periodChoices('quarter', new Date('2023-02-01T00:00:00Z'))).toEqual(['2023-Q1', '2022-Q4', '2022-Q3', '2022-Q2']);
    expect(periodChoices('year', new Date('2023-02-01T00:00:00Z'))).toEqual(['2023', '2022']);
  });
});
