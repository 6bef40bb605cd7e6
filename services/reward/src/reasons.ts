/**
 * Stable codes, with their figures, for the rule explanations the API also gives as English
 * sentences (`explanation`, `explanations`, `targetSource`, `tieNote`: documented fields, kept for
 * API clients). A client that speaks another language (the staff console, zh-CN first) says the
 * code in its own words (the codes and their parameters: ./reason-codes.ts).
 *
 * The figures are read from the domain's results (points, band, whole points); the few branch
 * conditions repeated here (the volume zero line, the capped deduction) are held to the domain's
 * own sentences by reasons.test.ts, which finds every figure of a code in the sentence beside it.
 */
import type { OperatorScore, Rules, SubsidyBudget, SubsidyResult, VolumeScore } from '@ridetally/domain';
import type { ReasonCode, TieReason } from './reason-codes';

export { REASON_PARAMS, REASON_CODES, type ReasonCode } from './reason-codes';

/** A rule explanation as a code and its figures (numbers unformatted; a client formats them). */
export interface Reason {
  code: ReasonCode;
  params: Record<string, string | number>;
}

export const reasonOf = (code: ReasonCode, params: Record<string, string | number> = {}): Reason => ({ code, params });

/** Where the year's volume target comes from (R15). */
export function targetReason(source: 'office' | 'rules' | 'none', rulesVersion: string): Reason {
  return source === 'rules' ? reasonOf('target.rules', { rulesVersion }) : reasonOf(source === 'office' ? 'target.office' : 'target.none');
}

/** The volume item (R16), as `scoreVolume` explained it; null volume: no target yet. */
export function volumeReason(volume: VolumeScore | null, rules: Pick<Rules, 'volumeItemPoints' | 'volumePointsPerPercent' | 'volumeZeroAtShortfallPercent'>): Reason {
  if (volume === null) return reasonOf('volume.noTarget');
  const common = { pct: volume.completionPercent, base: rules.volumeItemPoints, per: rules.volumePointsPerPercent, score: volume.points };
  if (volume.wholePoints >= 0) return reasonOf('volume.above', { ...common, points: volume.wholePoints });
  const below = -volume.wholePoints;
  if (below >= rules.volumeZeroAtShortfallPercent) return reasonOf('volume.zero', { pct: volume.completionPercent, points: below, zeroAt: rules.volumeZeroAtShortfallPercent });
  return reasonOf('volume.below', { ...common, points: below });
}

/** A month's boardings against target/12 (R14, for following the year only). */
export function monthReason(monthTarget: number | null): Reason {
  return monthTarget ? reasonOf('month.target', { monthTarget }) : reasonOf('month.noTarget');
}

/** Each item of `scoreOperator` (R16): the volume item, then the assessor's items. */
export function itemReasons(score: OperatorScore, volume: Reason, entered: Partial<Record<string, number>>): Reason[] {
  return score.items.map((i) => {
    if (i.item === 'volume') return volume;
    return entered[i.item] === undefined ? reasonOf('item.notEntered') : reasonOf('item.entered', { max: i.max ?? 0 });
  });
}

/** The capped total (R16). */
export function totalReason(score: OperatorScore, rules: Pick<Rules, 'scoreCap'>): Reason {
  return reasonOf(score.sum > rules.scoreCap ? 'total.capped' : 'total.sum', { sum: score.sum, cap: rules.scoreCap });
}

/** `computeSubsidy`'s explanations, in order (R17, plan §六). */
export function subsidyReasons(
  s: SubsidyResult,
  budget: SubsidyBudget,
  rules: Pick<Rules, 'linkedBaseShare' | 'bonusAboveScore' | 'fullSubsidyFromScore' | 'cnyPerPoint' | 'preProgrammeCityShare'>,
): Reason[] {
  const out = [reasonOf('subsidy.linkedBase', { sharePercent: Math.round(rules.linkedBaseShare * 10000) / 100, operatingCny: budget.operatingSubsidyCny, linkedBaseCny: s.linkedBaseCny })];
  const perPoint = { score: s.score, points: s.wholePoints, cnyPerPoint: rules.cnyPerPoint };
  switch (s.band) {
    case 'bonus':
      out.push(reasonOf('subsidy.bonus', { ...perPoint, bonusFrom: rules.bonusAboveScore, adjustmentCny: s.adjustmentCny }));
      break;
    case 'full':
      out.push(reasonOf('subsidy.full', { fullFrom: rules.fullSubsidyFromScore, score: s.score, bonusFrom: rules.bonusAboveScore }));
      break;
    case 'deduction': {
      const raw = s.wholePoints * rules.cnyPerPoint;
      out.push(
        raw > s.linkedBaseCny
          ? reasonOf('subsidy.deductionCapped', { ...perPoint, fullFrom: rules.fullSubsidyFromScore, rawCny: raw, linkedBaseCny: s.linkedBaseCny })
          : reasonOf('subsidy.deduction', { ...perPoint, fullFrom: rules.fullSubsidyFromScore, deductionCny: -s.adjustmentCny }),
      );
      break;
    }
  }
  const sharedCny = Math.min(budget.preProgrammeSubsidyCny, s.settledCny);
  out.push(
    reasonOf('subsidy.split', {
      sharedCny,
      cityTenths: Math.round(rules.preProgrammeCityShare * 10),
      districtTenths: Math.round((1 - rules.preProgrammeCityShare) * 10),
      districtCny: s.districtCny,
      increaseCny: s.settledCny - sharedCny,
      cityCny: s.cityCny,
    }),
  );
  return out;
}

export type { TieReason } from './reason-codes';

const SHARED_NOTE = /^R7\/R9: (\d+) persons tie on (\d+) rides at shared rank (\d+) \(positions (\d+)–(\d+)\), crossing (.+); all take rank \d+$/;
const FIRST_REACHED_NOTE = /^R7: (\d+) persons tie on (\d+) rides \(positions (\d+)–(\d+)\), crossing (.+); ordered by last counted ride, earlier first, then person id$/;

/**
 * A tie note read back into its figures. A snapshot freezes the note's sentence (it is part of the
 * hashed content), so the structure is recovered from it, the same way for live and frozen lists;
 * null for no note or a sentence of another form (a client then shows the note as it is).
 */
export function tieReason(note: string | null): TieReason | null {
  if (note === null) return null;
  const shared = SHARED_NOTE.exec(note);
  const first = shared ? null : FIRST_REACHED_NOTE.exec(note);
  const m = shared ?? first;
  if (!m) return null;
  const n = (i: number) => Number(m[i]);
  const crossing = (shared ? m[6] : m[5])!.split(' and ');
  let listLine: number | null = null;
  const tierBoundariesAfter: number[] = [];
  for (const c of crossing) {
    const line = /^the (\d+) line$/.exec(c);
    const tier = /^the tier boundary after rank (\d+)$/.exec(c);
    if (line) listLine = Number(line[1]);
    else if (tier) tierBoundariesAfter.push(Number(tier[1]));
    else return null;
  }
  return shared
    ? { policy: 'shared', size: n(1), rides: n(2), rank: n(3), fromPosition: n(4), toPosition: n(5), listLine, tierBoundariesAfter }
    : { policy: 'first-reached', size: n(1), rides: n(2), rank: null, fromPosition: n(3), toPosition: n(4), listLine, tierBoundariesAfter };
}
