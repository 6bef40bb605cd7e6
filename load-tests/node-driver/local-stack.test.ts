import { describe, expect, it } from 'vitest';
import { checkNationalId } from '../../packages/domain/src/national-id';
import { periodsBetween, syntheticIdNumber } from './local-stack';

describe('local stack population', () => {
  it('generates valid, distinct resident ID numbers for the synthetic persons', () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => syntheticIdNumber(i));
    for (const id of ids) expect(checkNationalId(id), id).toBeNull();
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('lists the quarters and years a date range touches', () => {
    expect(periodsBetween('2022-09-01', '2022-09-30')).toEqual(['2022-Q3', '2022']);
    expect(periodsBetween('2022-11-15', '2023-01-10')).toEqual(['2022-Q4', '2023-Q1', '2022', '2023']);
  });
});
