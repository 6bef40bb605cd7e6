import { describe, expect, it } from 'vitest';
import { checkNationalId } from '../../packages/domain/src/national-id';
import { syntheticIdNumber } from './local-stack';

describe('local stack population', () => {
  it('generates valid, distinct resident ID numbers for the synthetic persons', () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => syntheticIdNumber(i));
    for (const id of ids) expect(checkNationalId(id), id).toBeNull();
    expect(new Set(ids).size).toBe(ids.length);
  });
});
