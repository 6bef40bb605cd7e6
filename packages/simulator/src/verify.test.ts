import { describe, expect, it } from 'vitest';
import { compareCounts, compareRankings, compareVolume, expectedList } from './verify';

const ids = new Map([
  ['P1', 'uuid-1'],
  ['P2', 'uuid-2'],
  ['P3', 'uuid-3'],
]);

describe('verify comparisons', () => {
  it('finds no difference when counts agree, ignoring zero rows', () => {
    expect(
      compareCounts(
        '2022-Q2',
        [{ key: 'P1', rides: 3 }],
        [
          { key: 'uuid-1', rides: 3 },
          { key: 'uuid-2', rides: 0 },
        ],
        ids,
      ),
    ).toEqual([]);
  });

  it('reports different, missing, extra and unmapped persons', () => {
    const diffs = compareCounts(
      '2022-Q2',
      [
        { key: 'P1', rides: 3 },
        { key: 'P2', rides: 1 },
        { key: 'P9', rides: 2 },
      ],
      [
        { key: 'uuid-1', rides: 4 },
        { key: 'uuid-3', rides: 1 },
        { key: 'uuid-x', rides: 5 },
      ],
      ids,
    );
    expect(diffs).toEqual([
      { period: '2022-Q2', externalRef: 'P1', personId: 'uuid-1', expected: 3, actual: 4 },
      { period: '2022-Q2', externalRef: 'P2', personId: 'uuid-2', expected: 1, actual: 0 },
      { period: '2022-Q2', externalRef: 'P3', personId: 'uuid-3', expected: 0, actual: 1 },
      { period: '2022-Q2', externalRef: 'P9', personId: null, expected: 2, actual: 0 },
      { period: '2022-Q2', externalRef: null, personId: 'uuid-x', expected: 0, actual: 5 },
    ]);
  });

  it('compares lists by rank and rides, cut by R8/R9', () => {
    const ranked = [
      { key: 'P1', rank: 1, rides: 320 },
      { key: 'P2', rank: 2, rides: 10 },
    ];
    expect(expectedList('2022', ranked)).toEqual([ranked[0]]);
    expect(expectedList('2022-Q2', ranked)).toEqual(ranked);
    expect(
      compareRankings(
        '2022-Q2',
        ranked,
        [
          { key: 'uuid-1', rank: 1, rides: 320 },
          { key: 'uuid-2', rank: 3, rides: 10 },
        ],
        ids,
      ),
    ).toEqual([
      {
        period: '2022-Q2',
        externalRef: 'P2',
        personId: 'uuid-2',
        expected: { rank: 2, rides: 10 },
        actual: { rank: 3, rides: 10 },
      },
    ]);
  });

  it('compares daily volume per route', () => {
    const e = [{ serviceDate: '2022-05-09', routeId: 'R1', boardings: 5, taps: 6 }];
    expect(compareVolume(e, e)).toEqual([]);
    expect(
      compareVolume(e, [{ serviceDate: '2022-05-09', routeId: 'R1', boardings: 6, taps: 6 }]),
    ).toHaveLength(1);
    expect(
      compareVolume([], [{ serviceDate: '2022-05-09', routeId: 'R2', boardings: 1, taps: 1 }]),
    ).toHaveLength(1);
  });
});
