import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  compileAnnualAwards,
  compileQuarterlyList,
  computeSubsidy,
  defaultRules,
  rankPersons,
  scoreOperator,
  scoreVolume,
  TIE_POLICIES,
  type Rules,
} from '@ridetally/domain';
import { itemReasons, REASON_PARAMS, subsidyReasons, tieReason, totalReason, volumeReason, type Reason } from './reasons';

const rules: Rules = { ...defaultRules(2022), listSize: 12, annualMinRides: 1, tiers: [{ fromRank: 1, toRank: 3, amountCny: 2000 }, { fromRank: 4, toRank: 12, amountCny: 500 }] };

/** A reason names exactly its code's parameters, and every figure is in the English sentence beside it. */
function expectMatches(r: Reason, sentence: string): void {
  expect(Object.keys(r.params).sort()).toEqual([...REASON_PARAMS[r.code]].sort());
  for (const [k, v] of Object.entries(r.params)) expect([r.code, k, sentence.includes(String(v))]).toEqual([r.code, k, true]);
}

describe('rule explanations as codes', () => {
  it('the volume item: above, below and at the zero line', () => {
    const codes = new Set<string>();
    for (const boardings of [1_039_000, 1_000_000, 972_000, 850_000, 851_000, 10]) {
      const v = scoreVolume(boardings, 1_000_000, rules);
      const r = volumeReason(v, rules);
      codes.add(r.code);
      expectMatches(r, v.explanation);
    }
    expect([...codes].sort()).toEqual(['volume.above', 'volume.below', 'volume.zero']);
    expect(volumeReason(null, rules)).toEqual({ code: 'volume.noTarget', params: {} });
  });

  it('the items and the capped total', () => {
    for (const [boardings, entered] of [
      [1_000_000, { safety: 15, service: 6 }],
      [1_200_000, { safety: 15, service: 6, operations: 8, public_response: 15, social_responsibility: 6 }],
    ] as const) {
      const v = scoreVolume(boardings, 1_000_000, rules);
      const score = scoreOperator(v, entered, rules);
      const items = itemReasons(score, volumeReason(v, rules), entered);
      score.items.forEach((item, i) => expectMatches(items[i]!, item.explanation));
      expect(items.filter((r) => r.code === 'item.notEntered')).toHaveLength(5 - Object.keys(entered).length);
      expectMatches(totalReason(score, rules), score.explanation);
    }
    expect(totalReason(scoreOperator(scoreVolume(1_200_000, 1_000_000, rules), { safety: 15, service: 6, operations: 8, public_response: 15, social_responsibility: 6 }, rules), rules).code).toBe('total.capped');
  });

  it('the subsidy, in every band, one reason per sentence', () => {
    const budget = { operatingSubsidyCny: 10_000_000, preProgrammeSubsidyCny: 4_000_000 };
    const codes = new Set<string>();
    for (const score of [100, 92.5, 90, 87, 85, 84.99, 80, 60, 20]) {
      const s = computeSubsidy(score, budget, rules);
      const reasons = subsidyReasons(s, budget, rules);
      expect(reasons).toHaveLength(s.explanations.length);
      reasons.forEach((r, i) => {
        codes.add(r.code);
        expectMatches(r, s.explanations[i]!);
      });
    }
    expect([...codes].sort()).toEqual(['subsidy.bonus', 'subsidy.deduction', 'subsidy.deductionCapped', 'subsidy.full', 'subsidy.linkedBase', 'subsidy.split']);
  });

  it('reads every tie note of both policies back into its figures', () => {
    const at = (i: number) => new Date(Date.UTC(2022, 5, 1) + i * 60_000).toISOString();
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 30, size: 'max' }), fc.constantFrom(...TIE_POLICIES), fc.boolean(), (rides, policy, annual) => {
        const ranked = rankPersons(rides.map((n, i) => ({ personId: `p${String(i).padStart(3, '0')}`, rides: n, lastCountedAt: at(i) })), policy);
        const list = annual ? compileAnnualAwards(ranked, rules, policy) : compileQuarterlyList(ranked, rules, policy);
        for (const row of list.rows) {
          const tie = tieReason(row.tieNote);
          if (row.tieNote === null) {
            expect(tie).toBeNull();
            continue;
          }
          seen.add(`${policy} ${tie?.listLine ? 'list' : ''} ${tie?.tierBoundariesAfter.length ? 'tier' : ''}`);
          expect(tie).toEqual({
            policy,
            size: row.row.tieSize,
            rides: row.row.rides,
            rank: policy === 'shared' ? row.row.rank : null,
            fromPosition: row.row.tieFrom,
            toPosition: row.row.tieTo,
            listLine: row.row.tieFrom <= rules.listSize && row.row.tieTo > rules.listSize ? rules.listSize : null,
            tierBoundariesAfter: annual ? rules.tiers.map((t) => t.toRank).filter((l) => l !== rules.listSize && row.row.tieFrom <= l && row.row.tieTo > l) : [],
          });
        }
      }),
      {
        numRuns: 300,
        // A group of 15 at the top crosses the tier boundary after rank 3 and the list line of 12.
        examples: TIE_POLICIES.flatMap((p) => [[[...Array<number>(15).fill(4), 1], p, true] as [number[], (typeof TIE_POLICIES)[number], boolean], [[...Array<number>(15).fill(4), 1], p, false]]),
      },
    );
    // Both policies, crossing the list line, a tier boundary, and both at once.
    for (const p of TIE_POLICIES) for (const c of ['list ', ' tier', 'list tier']) expect(seen).toContain(`${p} ${c}`);
    expect(tieReason(null)).toBeNull();
    expect(tieReason('a note in another form')).toBeNull();
  });
});
