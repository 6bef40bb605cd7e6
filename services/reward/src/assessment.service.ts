/**
 * R14-R17 operator assessment: monthly and annual boardings on city-area routes against the year's
 * target, the volume item, the assessor's five items, the capped total, the subsidy adjustment and
 * the city/district split — every figure with the rule that produced it. The monthly figures set
 * against target/12 are for following the year (the plan assesses volume monthly, 6项每月考核一次);
 * only the annual completion scores.
 */
import {
  findSubsidyBudget,
  findVolumeTarget,
  listAssessments,
  sumCityBoardingsByMonth,
  upsertAssessment,
  upsertSubsidyBudget,
  upsertVolumeTarget,
} from '@ridetally/db';
import {
  completionPercent,
  computeSubsidy,
  scoreOperator,
  scoreVolume,
  ScoringError,
  SubsidyError,
  validateAssessmentScore,
  type AssessmentItem,
} from '@ridetally/domain';
import { AppError } from '@ridetally/http';
import { audit, type Actor } from './audit.service';
import type { RewardContext } from './deps';
import { itemReasons, monthReason, reasonOf, subsidyReasons, targetReason, totalReason, volumeReason } from './reasons';
import { rulesForYear } from './rules.service';

async function targetFor(ctx: RewardContext, year: number): Promise<{ target: number | null; source: string; from: 'office' | 'rules' | 'none' }> {
  const stored = await findVolumeTarget(ctx.db, year);
  if (stored !== undefined) return { target: Number(stored), source: 'set by the office (volume_targets)', from: 'office' };
  const rules = await rulesForYear(ctx.db, year);
  return rules.volumeTarget === null
    ? { target: null, source: 'not set', from: 'none' }
    : { target: rules.volumeTarget, source: `R15: rules ${rules.version}`, from: 'rules' };
}

export async function volumeReport(ctx: RewardContext, year: number) {
  const rules = await rulesForYear(ctx.db, year);
  const { target, source, from } = await targetFor(ctx, year);
  const months = await sumCityBoardingsByMonth(ctx.db, year);
  const byMonth = new Map(months.map((m) => [m.month, m.boardings]));
  const boardings = months.reduce((s, m) => s + m.boardings, 0);
  const monthly = Array.from({ length: 12 }, (_, i) => {
    const b = byMonth.get(i + 1) ?? 0;
    const monthTarget = target === null ? null : Math.round(target / 12);
    return {
      month: `${year}-${String(i + 1).padStart(2, '0')}`,
      boardings: b,
      target: monthTarget,
      completionPercent: monthTarget ? completionPercent(b, monthTarget) : null,
      explanation: monthTarget ? `R14: city-area boardings of the month against target/12 = ${monthTarget} (for following the year; only the annual figure scores)` : 'R14: no target set',
      reason: monthReason(monthTarget),
    };
  });
  const volume = target === null ? null : scoreVolume(boardings, target, rules);
  return {
    year,
    rulesVersion: rules.version,
    target,
    targetSource: source,
    targetSourceReason: targetReason(from, rules.version),
    boardings,
    completionPercent: volume?.completionPercent ?? null,
    volumeScore: volume?.points ?? null,
    explanation: volume?.explanation ?? 'R15: no volume target for this year; the office sets it',
    reason: volumeReason(volume, rules),
    monthly,
  };
}

function asAppError(e: unknown): never {
  if (e instanceof ScoringError || e instanceof SubsidyError) throw new AppError('validation_failed', e.message);
  throw e;
}

export async function enterItem(ctx: RewardContext, actor: Actor, year: number, item: AssessmentItem, score: number, note: string | null) {
  const rules = await rulesForYear(ctx.db, year);
  try {
    validateAssessmentScore(item, score, rules);
  } catch (e) {
    asAppError(e);
  }
  await ctx.db.transaction().execute(async (trx) => {
    const now = ctx.now();
    await upsertAssessment(trx, { year, item, score, note, enteredBy: actor.username, enteredAt: now });
    await audit(trx, now, actor, 'assessment.enter', `assessment:${year}`, note, { item, score });
  });
  return { year, item, score, max: rules.assessmentItems[item] };
}

export async function setTarget(ctx: RewardContext, actor: Actor, year: number, target: number, reason: string | null) {
  await ctx.db.transaction().execute(async (trx) => {
    const now = ctx.now();
    await upsertVolumeTarget(trx, { year, target, setBy: actor.username, setAt: now });
    await audit(trx, now, actor, 'assessment.target', `assessment:${year}`, reason, { target });
  });
  return { year, target };
}

export async function setBudget(ctx: RewardContext, actor: Actor, year: number, b: { operatingSubsidyCny: number; preProgrammeSubsidyCny: number }, reason: string | null) {
  await ctx.db.transaction().execute(async (trx) => {
    const now = ctx.now();
    await upsertSubsidyBudget(trx, { year, ...b, setBy: actor.username, setAt: now });
    await audit(trx, now, actor, 'assessment.budget', `assessment:${year}`, reason, b);
  });
  return { year, ...b };
}

export async function operatorScore(ctx: RewardContext, year: number) {
  const rules = await rulesForYear(ctx.db, year);
  const report = await volumeReport(ctx, year);
  if (report.target === null) throw new AppError('conflict', `no volume target for ${year}; the office sets it first`, { reason: reasonOf('volume.noTarget') });
  const entered = Object.fromEntries((await listAssessments(ctx.db, year)).map((a) => [a.item, Number(a.score)])) as Partial<Record<AssessmentItem, number>>;
  let score;
  try {
    score = scoreOperator(scoreVolume(report.boardings, report.target, rules), entered, rules);
  } catch (e) {
    asAppError(e);
  }
  const budget = await findSubsidyBudget(ctx.db, year);
  const subsidy = budget ? computeSubsidy(score.total, budget, rules) : null;
  const reasons = itemReasons(score, report.reason, entered);
  return {
    year,
    rulesVersion: rules.version,
    volume: { boardings: report.boardings, target: report.target, completionPercent: report.completionPercent },
    items: score.items.map((i, n) => ({ ...i, reason: reasons[n]! })),
    sum: score.sum,
    total: score.total,
    complete: score.complete,
    explanation: score.explanation,
    reason: totalReason(score, rules),
    subsidy: subsidy && budget ? { ...subsidy, reasons: subsidyReasons(subsidy, budget, rules) } : null,
    subsidyExplanation: subsidy ? null : 'R17: no subsidy budget set for this year',
    subsidyReason: subsidy ? null : reasonOf('subsidy.noBudget'),
  };
}
