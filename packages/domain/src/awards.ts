/**
 * R8 quarterly lists and R9 annual awards, computed from a ranking (R7). Every row carries the
 * rule that put it on the list and, for awards, the rule that set its amount.
 */
import type { Ranked, RankInput } from './ranking';
import type { AwardTier, Rules, TiePolicy } from './rules';

export interface ListRow<T extends RankInput> {
  row: Ranked<T>;
  /** Annual lists only: the award in CNY (R9). */
  awardCny: number | null;
  /** Set when the person's tie group crosses a tier boundary or the list's size line. */
  tieNote: string | null;
  /** The rule that produced the row (and its amount). */
  explanation: string;
}

export interface TierTotal {
  fromRank: number;
  toRank: number;
  amountCny: number;
  persons: number;
  totalCny: number;
}

export interface ListTotals {
  persons: number;
  rides: number;
  /** Annual only. */
  tiers?: TierTotal[];
  totalCny?: number;
  /** Annual only: Σ tier size × amount, what the list costs without ties. */
  nominalBudgetCny?: number;
  exceedsNominalBudget?: boolean;
}

export interface CompiledList<T extends RankInput> {
  kind: 'quarterly' | 'annual';
  tiePolicy: TiePolicy;
  rows: ListRow<T>[];
  totals: ListTotals;
}

/** The tier a rank falls in, or undefined past the last tier. */
export function tierForRank(rank: number, tiers: readonly AwardTier[]): AwardTier | undefined {
  return tiers.find((t) => rank >= t.fromRank && rank <= t.toRank);
}

/** The tier-boundary and list-line crossings of a tie group [from, to] (positions). */
function tieNoteFor<T extends RankInput>(r: Ranked<T>, rules: Rules, policy: TiePolicy, withTiers: boolean): string | null {
  if (r.tieSize < 2) return null;
  const lines = withTiers ? rules.tiers.map((t) => t.toRank) : [rules.listSize];
  if (!lines.includes(rules.listSize)) lines.push(rules.listSize);
  const crossed = lines.filter((line) => r.tieFrom <= line && r.tieTo > line);
  if (crossed.length === 0) return null;
  const where = crossed.map((l) => (l === rules.listSize ? `the ${l} line` : `the tier boundary after rank ${l}`)).join(' and ');
  return policy === 'shared'
    ? `R7/R9: ${r.tieSize} persons tie on ${r.rides} rides at shared rank ${r.rank} (positions ${r.tieFrom}–${r.tieTo}), crossing ${where}; all take rank ${r.rank}`
    : `R7: ${r.tieSize} persons tie on ${r.rides} rides (positions ${r.tieFrom}–${r.tieTo}), crossing ${where}; ordered by last counted ride, earlier first, then person id`;
}

/** R8: the quarterly list, rank ≤ listSize and count ≥ 1. */
export function compileQuarterlyList<T extends RankInput>(ranked: readonly Ranked<T>[], rules: Rules, policy: TiePolicy): CompiledList<T> {
  const rows: ListRow<T>[] = ranked
    .filter((r) => r.rank <= rules.listSize && r.rides >= 1)
    .map((r) => ({
      row: r,
      awardCny: null,
      tieNote: tieNoteFor(r, rules, policy, false),
      explanation: `R8: rank ${r.rank} ≤ ${rules.listSize} with ${r.rides} counted rides ≥ 1`,
    }));
  return {
    kind: 'quarterly',
    tiePolicy: policy,
    rows,
    totals: { persons: rows.length, rides: rows.reduce((s, r) => s + r.row.rides, 0) },
  };
}

/**
 * R9: the annual award list, rank ≤ listSize and count ≥ annualMinRides; the amount is the tier of
 * the person's rank, so with shared ranks everyone at a rank gets that rank's tier (a tie at rank 10
 * of three persons pays ¥2000 three times). Totals are exact and may exceed the nominal budget.
 */
export function compileAnnualAwards<T extends RankInput>(ranked: readonly Ranked<T>[], rules: Rules, policy: TiePolicy): CompiledList<T> {
  const rows: ListRow<T>[] = [];
  for (const r of ranked) {
    if (r.rank > rules.listSize || r.rides < rules.annualMinRides) continue;
    const tier = tierForRank(r.rank, rules.tiers);
    if (!tier) continue;
    rows.push({
      row: r,
      awardCny: tier.amountCny,
      tieNote: tieNoteFor(r, rules, policy, true),
      explanation: `R9: rank ${r.rank} ≤ ${rules.listSize} and ${r.rides} rides ≥ ${rules.annualMinRides}; rank ${r.rank} is in tier ${tier.fromRank}–${tier.toRank} → ¥${tier.amountCny}`,
    });
  }
  const tiers: TierTotal[] = rules.tiers.map((t) => {
    const inTier = rows.filter((r) => r.row.rank >= t.fromRank && r.row.rank <= t.toRank);
    return { ...t, persons: inTier.length, totalCny: inTier.length * t.amountCny };
  });
  const totalCny = tiers.reduce((s, t) => s + t.totalCny, 0);
  const nominalBudgetCny = rules.tiers.reduce((s, t) => s + (t.toRank - t.fromRank + 1) * t.amountCny, 0);
  return {
    kind: 'annual',
    tiePolicy: policy,
    rows,
    totals: {
      persons: rows.length,
      rides: rows.reduce((s, r) => s + r.row.rides, 0),
      tiers,
      totalCny,
      nominalBudgetCny,
      exceedsNominalBudget: totalCny > nominalBudgetCny,
    },
  };
}

/** R11: the ceremony list, the annual list's rows with rank ≤ ceremonySize. */
export function ceremonyRows<R extends { rank: number }>(rows: readonly R[], rules: Pick<Rules, 'ceremonySize'>): R[] {
  return rows.filter((r) => r.rank <= rules.ceremonySize);
}
