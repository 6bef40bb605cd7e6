/**
 * R17: the subsidy link. The plan: "以公交运营财政补贴总额的30%作为考核挂钩基数，年度考核总评分为90分以上，
 * 在享受全额公交运营补贴资金的基础上，每增加1分奖励50万元；85—90分，可享受全额；85分以下，每低1分扣减50万元".
 * - Whole points, truncated like the volume item: 92.5 is 2 points above 90 (+¥1,000,000); 84.5 is
 *   not yet one whole point below 85, so nothing is deducted (it is still reported as below 85).
 * - A deduction never exceeds the linked base (30 % of the operating subsidy): the base is what is at
 *   stake. The bonus has no cap in the plan.
 * - Split (plan §六): the pre-programme subsidy is borne city:district 5:5, the increase since the
 *   programme by the city. We apply it to the settled amount: the shared part is min(pre-programme,
 *   settled), half each; everything above it (the increase, and so the bonus) is the city's. A
 *   deduction therefore lowers first the city's increase, then both halves alike.
 * Scores are handled in hundredths (assessor items have two decimals).
 */
import type { Rules } from './rules';

export class SubsidyError extends Error {
  override name = 'SubsidyError';
}

export interface SubsidyBudget {
  operatingSubsidyCny: number;
  preProgrammeSubsidyCny: number;
}

export interface SubsidyResult {
  score: number;
  band: 'bonus' | 'full' | 'deduction';
  linkedBaseCny: number;
  wholePoints: number;
  adjustmentCny: number;
  settledCny: number;
  cityCny: number;
  districtCny: number;
  explanations: string[];
}

type SubsidyRules = Pick<Rules, 'linkedBaseShare' | 'bonusAboveScore' | 'fullSubsidyFromScore' | 'cnyPerPoint' | 'preProgrammeCityShare'>;

export function computeSubsidy(score: number, budget: SubsidyBudget, rules: SubsidyRules): SubsidyResult {
  if (!Number.isFinite(score) || score < 0 || score > 100) throw new SubsidyError('score must be between 0 and 100');
  const { operatingSubsidyCny: op, preProgrammeSubsidyCny: pre } = budget;
  if (!Number.isInteger(op) || op < 0 || !Number.isInteger(pre) || pre < 0) throw new SubsidyError('subsidy amounts must be non-negative whole yuan');
  const s100 = Math.round(score * 100);
  const linkedBaseCny = Math.round(op * rules.linkedBaseShare);
  const explanations = [`R17: linked base = ${rules.linkedBaseShare * 100} % × ¥${op} = ¥${linkedBaseCny}`];
  let band: SubsidyResult['band'];
  let wholePoints = 0;
  let adjustmentCny = 0;
  if (s100 >= rules.bonusAboveScore * 100) {
    band = 'bonus';
    wholePoints = Math.floor((s100 - rules.bonusAboveScore * 100) / 100);
    adjustmentCny = wholePoints * rules.cnyPerPoint;
    explanations.push(`R17: score ${score} ≥ ${rules.bonusAboveScore}: full subsidy + ${wholePoints} whole point(s) above ${rules.bonusAboveScore} × ¥${rules.cnyPerPoint} = +¥${adjustmentCny}`);
  } else if (s100 >= rules.fullSubsidyFromScore * 100) {
    band = 'full';
    explanations.push(`R17: ${rules.fullSubsidyFromScore} ≤ score ${score} < ${rules.bonusAboveScore}: full subsidy`);
  } else {
    band = 'deduction';
    wholePoints = Math.floor((rules.fullSubsidyFromScore * 100 - s100) / 100);
    const raw = wholePoints * rules.cnyPerPoint;
    adjustmentCny = raw === 0 ? 0 : -Math.min(raw, linkedBaseCny);
    explanations.push(
      raw > linkedBaseCny
        ? `R17: score ${score} < ${rules.fullSubsidyFromScore}: ${wholePoints} whole point(s) below × ¥${rules.cnyPerPoint} = ¥${raw}, capped at the linked base → −¥${linkedBaseCny}`
        : `R17: score ${score} < ${rules.fullSubsidyFromScore}: ${wholePoints} whole point(s) below × ¥${rules.cnyPerPoint} → −¥${raw}`,
    );
  }
  const settledCny = op + adjustmentCny;
  const shared = Math.min(pre, settledCny);
  const districtCny = Math.round(shared * (1 - rules.preProgrammeCityShare));
  const cityCny = settledCny - districtCny;
  explanations.push(
    `plan §六: pre-programme part ¥${shared} shared city:district ${rules.preProgrammeCityShare * 10}:${(1 - rules.preProgrammeCityShare) * 10} → district ¥${districtCny}; the increase ¥${settledCny - shared} is the city's → city ¥${cityCny}`,
  );
  return { score, band, linkedBaseCny, wholePoints, adjustmentCny, settledCny, cityCny, districtCny, explanations };
}
