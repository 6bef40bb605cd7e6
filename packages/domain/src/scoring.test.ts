import { describe, expect, it } from 'vitest';
import { defaultRules, VOLUME_TARGET_2022 } from './rules';
import { scoreOperator, scoreVolume, ScoringError } from './scoring';
import { computeSubsidy } from './subsidy';

const rules = defaultRules(2022);
const target = VOLUME_TARGET_2022;

describe('R15 target', () => {
  it('2022: 456,000 × 1.8 × 365 × 12 % ≈ 35,951,040, fixed by the plan as 3595万', () => {
    expect(Math.round(456_000 * 1.8 * 365 * 0.12)).toBe(35_951_040);
    expect(target).toBe(35_950_000);
    expect(rules.volumeTarget).toBe(35_950_000);
  });
});

describe('R16 volume item', () => {
  // boardings = target × completion, exact integers
  const cases: [string, number, number, number][] = [
    // label, boardings, whole points, score
    ['100 %', 35_950_000, 0, 50],
    ['103.9 % → 3 whole points above → 50 + 9', 37_352_050, 3, 59],
    ['97.2 % → 2 whole points below → 50 − 6', 34_943_400, -2, 44],
    ['86 % → 14 below → 50 − 42', 30_917_000, -14, 8],
    ['85 % → 15 below, shortfall reaches 15 → 0', 30_557_500, -15, 0],
    ['84.9 % → 15 below → 0', 30_521_550, -15, 0],
  ];
  for (const [label, boardings, whole, points] of cases) {
    it(label, () => {
      const v = scoreVolume(boardings, target, rules);
      expect(v.wholePoints).toBe(whole);
      expect(v.points).toBe(points);
      expect(v.explanation).toMatch(/^R16: /);
    });
  }
  it('reports completion to two decimals', () => {
    expect(scoreVolume(37_352_050, target, rules).completionPercent).toBe(103.9);
    expect(scoreVolume(30_521_550, target, rules).completionPercent).toBe(84.9);
  });
});

describe('R16 total', () => {
  const full = { safety: 15, service: 6, operations: 8, public_response: 15, social_responsibility: 6 };
  it('adds the five items to the volume item and caps at 100', () => {
    const s = scoreOperator(scoreVolume(37_352_050, target, rules), full, rules);
    expect(s.sum).toBe(109); // 59 + 50
    expect(s.total).toBe(100);
    expect(s.complete).toBe(true);
    const t = scoreOperator(scoreVolume(34_943_400, target, rules), { ...full, safety: 12.5 }, rules);
    expect(t.total).toBe(91.5); // 44 + 47.5
  });
  it('refuses an item above its maximum', () => {
    expect(() => scoreOperator(scoreVolume(target, target, rules), { ...full, service: 6.5 }, rules)).toThrow(ScoringError);
  });
  it('counts a missing item as 0 and says the score is incomplete', () => {
    const s = scoreOperator(scoreVolume(target, target, rules), { safety: 10 }, rules);
    expect(s.total).toBe(60);
    expect(s.complete).toBe(false);
  });
});

describe('R17 subsidy', () => {
  // Operating subsidy ¥20,000,000 → linked base 30 % = ¥6,000,000; pre-programme ¥8,000,000.
  const budget = { operatingSubsidyCny: 20_000_000, preProgrammeSubsidyCny: 8_000_000 };
  const cases: [number, string, number, number][] = [
    // score, band, whole points, adjustment
    [92.5, 'bonus', 2, 1_000_000], // 2 whole points above 90 × ¥500,000
    [90, 'bonus', 0, 0], // at 90: full subsidy, no whole point above
    [87, 'full', 0, 0],
    [85, 'full', 0, 0],
    [84.5, 'deduction', 0, 0], // below 85 but not one whole point below
    [70, 'deduction', 15, -6_000_000], // 15 × ¥500,000 = ¥7,500,000, capped at the linked base
  ];
  for (const [score, band, whole, adj] of cases) {
    it(`score ${score} → ${band} ${adj}`, () => {
      const r = computeSubsidy(score, budget, rules);
      expect(r.linkedBaseCny).toBe(6_000_000);
      expect(r.band).toBe(band);
      expect(r.wholePoints).toBe(whole);
      expect(r.adjustmentCny).toBe(adj);
      expect(r.settledCny).toBe(20_000_000 + adj);
      expect(r.explanations.length).toBeGreaterThanOrEqual(3);
    });
  }
  it('splits the pre-programme part 5:5 and gives the increase to the city', () => {
    const r = computeSubsidy(92.5, budget, rules);
    // settled 21,000,000: district = 8,000,000 / 2 = 4,000,000; city = 4,000,000 + 13,000,000
    expect(r.districtCny).toBe(4_000_000);
    expect(r.cityCny).toBe(17_000_000);
    const low = computeSubsidy(70, { operatingSubsidyCny: 10_000_000, preProgrammeSubsidyCny: 9_000_000 }, rules);
    // base 3,000,000; deduction 7,500,000 capped → settled 7,000,000 < pre 9,000,000 → 3.5M each
    expect(low.settledCny).toBe(7_000_000);
    expect(low.districtCny).toBe(3_500_000);
    expect(low.cityCny).toBe(3_500_000);
  });
});
