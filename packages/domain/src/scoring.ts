/**
 * R15-R16: the operator's annual score. Volume item (年客运量, 50 points, also a bonus item):
 * the plan's table says "每增加1个百分点加3分；每下降1个百分点扣3分（下降达到15个百分点，该项不得分）".
 * We read "1个百分点" as a WHOLE percentage point of completion, truncated towards 100 % on both
 * sides: 103.9 % has 3 whole points above (+9), 97.2 % has 2 whole points below (−6), a fraction of a
 * point neither adds nor deducts — the same convention the plan states outright for its staffing item
 * ("不足 1 个百分点不扣分"). A shortfall that reaches 15 points (completion ≤ 85 %) scores 0.
 * Completion is computed in integers (boardings × 100 / target), never through a rounded percentage.
 */
import { ASSESSMENT_ITEMS, type AssessmentItem, type Rules } from './rules';

export class ScoringError extends Error {
  override name = 'ScoringError';
}

export interface VolumeScore {
  boardings: number;
  target: number;
  /** Completion in percent, rounded to 2 decimals for display only. */
  completionPercent: number;
  /** Whole percentage points above (positive) or below (negative) 100 %. */
  wholePoints: number;
  points: number;
  explanation: string;
}

/** Completion of a volume target in percent (display value, 2 decimals). */
export function completionPercent(boardings: number, target: number): number {
  if (!(target > 0)) throw new ScoringError('the volume target must be positive');
  return Math.round((boardings * 10000) / target) / 100;
}

/** R16 volume item from boardings and the target (R15). */
export function scoreVolume(boardings: number, target: number, rules: Pick<Rules, 'volumeItemPoints' | 'volumePointsPerPercent' | 'volumeZeroAtShortfallPercent'>): VolumeScore {
  if (!Number.isInteger(boardings) || boardings < 0) throw new ScoringError('boardings must be a non-negative integer');
  if (!Number.isInteger(target) || target <= 0) throw new ScoringError('the volume target must be a positive integer');
  const pct = completionPercent(boardings, target);
  const base = rules.volumeItemPoints;
  const per = rules.volumePointsPerPercent;
  if (boardings >= target) {
    const above = Math.floor(((boardings - target) * 100) / target);
    return {
      boardings, target, completionPercent: pct, wholePoints: above, points: base + per * above,
      explanation: `R16: completion ${pct} % is ${above} whole point(s) above 100 % → ${base} + ${per} × ${above} = ${base + per * above}`,
    };
  }
  const below = Math.floor(((target - boardings) * 100) / target);
  if (below >= rules.volumeZeroAtShortfallPercent) {
    return {
      boardings, target, completionPercent: pct, wholePoints: -below, points: 0,
      explanation: `R16: completion ${pct} % falls short by ${below} whole points, reaching ${rules.volumeZeroAtShortfallPercent} → 0`,
    };
  }
  const points = Math.max(0, base - per * below);
  return {
    boardings, target, completionPercent: pct, wholePoints: -below, points,
    explanation: `R16: completion ${pct} % is ${below} whole point(s) below 100 % → ${base} − ${per} × ${below} = ${points}`,
  };
}

export interface ItemScore {
  item: AssessmentItem | 'volume';
  score: number;
  max: number | null;
  explanation: string;
}

export interface OperatorScore {
  items: ItemScore[];
  /** Sum before the cap. */
  sum: number;
  total: number;
  /** True when every assessor item has been entered. */
  complete: boolean;
  explanation: string;
}

/** Checks an assessor's item score against its maximum (R16). */
export function validateAssessmentScore(item: AssessmentItem, score: number, rules: Pick<Rules, 'assessmentItems'>): void {
  const max = rules.assessmentItems[item];
  if (!Number.isFinite(score) || score < 0 || score > max) {
    throw new ScoringError(`${item} must be between 0 and ${max}`);
  }
  if (Math.round(score * 100) !== score * 100) throw new ScoringError(`${item} has at most two decimals`);
}

/** R16 total: volume item + the five assessor items, capped at scoreCap. Missing items count 0. */
export function scoreOperator(
  volume: VolumeScore,
  entered: Partial<Record<AssessmentItem, number>>,
  rules: Pick<Rules, 'assessmentItems' | 'scoreCap'>,
): OperatorScore {
  const items: ItemScore[] = [{ item: 'volume', score: volume.points, max: null, explanation: volume.explanation }];
  let complete = true;
  for (const item of ASSESSMENT_ITEMS) {
    const v = entered[item];
    if (v === undefined) complete = false;
    else validateAssessmentScore(item, v, rules);
    items.push({
      item,
      score: v ?? 0,
      max: rules.assessmentItems[item],
      explanation: v === undefined ? `R16: ${item} not entered yet → 0` : `R16: ${item} entered by the assessment group, within 0–${rules.assessmentItems[item]}`,
    });
  }
  // Sum in hundredths: assessor scores have two decimals.
  const sum = items.reduce((s, i) => s + Math.round(i.score * 100), 0) / 100;
  const total = Math.min(rules.scoreCap, sum);
  return {
    items,
    sum,
    total,
    complete,
    explanation: sum > rules.scoreCap ? `R16: items sum to ${sum}, capped at ${rules.scoreCap}` : `R16: items sum to ${sum} (cap ${rules.scoreCap})`,
  };
}
