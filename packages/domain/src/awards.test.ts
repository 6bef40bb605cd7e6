import { describe, expect, it } from 'vitest';
import { compileAnnualAwards, compileQuarterlyList, ceremonyRows } from './awards';
import { rankPersons, type RankInput } from './ranking';
import { defaultRules } from './rules';

const rules = defaultRules(2022);
const T0 = Date.parse('2022-12-01T00:00:00Z');

/** Persons p00001… with the given ride counts; person i's last counted ride is at T0 + i minutes. */
function people(counts: number[]): RankInput[] {
  return counts.map((rides, i) => ({
    personId: `p${String(i + 1).padStart(5, '0')}`,
    rides,
    lastCountedAt: new Date(T0 + i * 60_000).toISOString(),
  }));
}

/** n persons with distinct counts: person at index i has `top - i` rides (so rank i + 1). */
const distinct = (n: number, top = 5000) => Array.from({ length: n }, (_, i) => top - i);

function awardOf(list: ReturnType<typeof compileAnnualAwards>, personId: string) {
  return list.rows.find((r) => r.row.personId === personId);
}

describe('R7 ranking', () => {
  it('shares ranks 1, 2, 2, 4 and orders first-reached ties by last ride, then person id', () => {
    const input: RankInput[] = [
      { personId: 'b', rides: 8, lastCountedAt: '2022-06-01T00:00:00Z' },
      { personId: 'a', rides: 9, lastCountedAt: '2022-06-05T00:00:00Z' },
      { personId: 'c', rides: 8, lastCountedAt: '2022-05-01T00:00:00Z' },
      { personId: 'd', rides: 7, lastCountedAt: '2022-05-01T00:00:00Z' },
      { personId: 'e', rides: 0, lastCountedAt: null },
    ];
    expect(rankPersons(input, 'shared').map((r) => [r.personId, r.rank])).toEqual([['a', 1], ['c', 2], ['b', 2], ['d', 4]]);
    expect(rankPersons(input, 'first-reached').map((r) => [r.personId, r.rank])).toEqual([['a', 1], ['c', 2], ['b', 3], ['d', 4]]);
    const sameTime: RankInput[] = [
      { personId: 'z', rides: 5, lastCountedAt: '2022-05-01T00:00:00Z' },
      { personId: 'y', rides: 5, lastCountedAt: '2022-05-01T00:00:00Z' },
    ];
    expect(rankPersons(sameTime, 'first-reached').map((r) => r.personId)).toEqual(['y', 'z']);
  });
});

describe('R9 tiers at 10/11, 100/101, 1000/1001, 2000/2001', () => {
  for (const policy of ['shared', 'first-reached'] as const) {
    it(`distinct counts, ${policy}: each boundary falls where the plan puts it`, () => {
      const list = compileAnnualAwards(rankPersons(people(distinct(2100)), policy), rules, policy);
      // Hand-checked: person pNNNNN has rank NNNNN.
      expect(awardOf(list, 'p00010')?.awardCny).toBe(2000);
      expect(awardOf(list, 'p00011')?.awardCny).toBe(1000);
      expect(awardOf(list, 'p00100')?.awardCny).toBe(1000);
      expect(awardOf(list, 'p00101')?.awardCny).toBe(500);
      expect(awardOf(list, 'p01000')?.awardCny).toBe(500);
      expect(awardOf(list, 'p01001')?.awardCny).toBe(200);
      expect(awardOf(list, 'p02000')?.awardCny).toBe(200);
      expect(awardOf(list, 'p02001')).toBeUndefined();
      expect(list.rows).toHaveLength(2000);
      // 10 × 2000 + 90 × 1000 + 900 × 500 + 1000 × 200 = 760,000
      expect(list.totals.totalCny).toBe(760_000);
      expect(list.totals.nominalBudgetCny).toBe(760_000);
      expect(list.totals.exceedsNominalBudget).toBe(false);
      expect(awardOf(list, 'p00011')?.explanation).toContain('tier 11–100 → ¥1000');
    });
  }

  it('a tie across each boundary: shared gives both the higher tier, first-reached splits them', () => {
    // Positions 10/11, 100/101, 1000/1001 and 2000/2001 tie pairwise (the later index has one ride less
    // in `distinct`; we make it equal to its predecessor).
    const counts = distinct(2100);
    for (const p of [11, 101, 1001, 2001]) counts[p - 1] = counts[p - 2]!;
    const input = people(counts);

    const shared = compileAnnualAwards(rankPersons(input, 'shared'), rules, 'shared');
    expect(awardOf(shared, 'p00011')?.row.rank).toBe(10);
    expect(awardOf(shared, 'p00011')?.awardCny).toBe(2000);
    expect(awardOf(shared, 'p00011')?.tieNote).toContain('tier boundary after rank 10');
    expect(awardOf(shared, 'p00101')?.awardCny).toBe(1000);
    expect(awardOf(shared, 'p01001')?.awardCny).toBe(500);
    expect(awardOf(shared, 'p02001')?.row.rank).toBe(2000);
    expect(awardOf(shared, 'p02001')?.awardCny).toBe(200);
    expect(awardOf(shared, 'p02001')?.tieNote).toContain('the 2000 line');
    // Rank 2002 (p02002) is beyond the line.
    expect(awardOf(shared, 'p02002')).toBeUndefined();
    expect(shared.rows).toHaveLength(2001);
    // Shared ranks: positions 1–9 → ranks 1–9; 10, 11 → 10; 12–99 → 12–99; 100, 101 → 100;
    // 102–999; 1000, 1001 → 1000; 1002–1999; 2000, 2001 → 2000; 2002 → 2002 (off the list).
    // Tier 1–10: 11 persons; 11–100: ranks 12–99 (88) + 2 at 100 = 90; 101–1000: 898 + 2 = 900;
    // 1001–2000: 998 + 2 = 1000. Total 11 × 2000 + 90 × 1000 + 900 × 500 + 1000 × 200 = 762,000.
    const tiers = shared.totals.tiers!;
    expect(tiers.map((t) => t.persons)).toEqual([11, 90, 900, 1000]);
    expect(shared.totals.totalCny).toBe(762_000);
    expect(shared.totals.exceedsNominalBudget).toBe(true);

    const fr = compileAnnualAwards(rankPersons(input, 'first-reached'), rules, 'first-reached');
    expect(awardOf(fr, 'p00010')?.awardCny).toBe(2000);
    expect(awardOf(fr, 'p00011')?.row.rank).toBe(11);
    expect(awardOf(fr, 'p00011')?.awardCny).toBe(1000);
    expect(awardOf(fr, 'p00101')?.awardCny).toBe(500);
    expect(awardOf(fr, 'p01001')?.awardCny).toBe(200);
    expect(awardOf(fr, 'p02000')?.awardCny).toBe(200);
    expect(awardOf(fr, 'p02001')).toBeUndefined();
    expect(awardOf(fr, 'p02000')?.tieNote).toContain('ordered by last counted ride');
    expect(fr.totals.totalCny).toBe(760_000);
  });

  it('a tie of four straddling rank 2000 is shown in full under shared ranks', () => {
    const counts = distinct(2100);
    // positions 1999..2002 all have the count of position 1999
    for (const p of [2000, 2001, 2002]) counts[p - 1] = counts[1998]!;
    const shared = compileAnnualAwards(rankPersons(people(counts), 'shared'), rules, 'shared');
    expect(shared.rows).toHaveLength(2002);
    for (const id of ['p01999', 'p02000', 'p02001', 'p02002']) {
      expect(awardOf(shared, id)?.row.rank).toBe(1999);
      expect(awardOf(shared, id)?.awardCny).toBe(200);
      expect(awardOf(shared, id)?.tieNote).toMatch(/4 persons tie .*positions 1999–2002.*the 2000 line/);
    }
    expect(awardOf(shared, 'p02003')).toBeUndefined();
    // 760,000 + 2 extra persons at ¥200
    expect(shared.totals.totalCny).toBe(760_400);

    const fr = compileAnnualAwards(rankPersons(people(counts), 'first-reached'), rules, 'first-reached');
    expect(fr.rows).toHaveLength(2000);
    expect(awardOf(fr, 'p02000')?.row.rank).toBe(2000);
    expect(awardOf(fr, 'p02001')).toBeUndefined();

    const q = compileQuarterlyList(rankPersons(people(counts), 'shared'), rules, 'shared');
    expect(q.rows).toHaveLength(2002);
    expect(q.rows.at(-1)?.tieNote).toContain('the 2000 line');
  });

  it('exactly 300 rides qualifies, 299 does not', () => {
    const input = people([301, 300, 299, 5]);
    const list = compileAnnualAwards(rankPersons(input, 'shared'), rules, 'shared');
    expect(list.rows.map((r) => [r.row.personId, r.row.rides, r.awardCny])).toEqual([
      ['p00001', 301, 2000],
      ['p00002', 300, 2000],
    ]);
    expect(list.totals).toMatchObject({ persons: 2, totalCny: 4000 });
    // The quarterly list (R8) only needs one ride.
    expect(compileQuarterlyList(rankPersons(input, 'shared'), rules, 'shared').rows).toHaveLength(4);
  });

  it('the ceremony list is the top 100', () => {
    const list = compileAnnualAwards(rankPersons(people(distinct(300)), 'shared'), rules, 'shared');
    expect(ceremonyRows(list.rows.map((r) => r.row), rules)).toHaveLength(100);
  });
});
