import { describe, expect, it } from 'vitest';
import { maskName } from './names';

describe('maskName', () => {
  it('masks as the notice requires', () => {
    expect(maskName('张三丰')).toBe('张*丰');
    expect(maskName('欧阳丽娜')).toBe('欧**娜');
    expect(maskName('张三')).toBe('张*');
    expect(maskName('𠀋一二')).toBe('𠀋*二');
  });
});
