/**
 * The programme's numbers, versioned per programme year (SPEC §2). Every computed result stores the
 * `version` of the rules that produced it.
 */
export interface AwardTier {
  /** Inclusive rank range. */
  fromRank: number;
  toRank: number;
  amountCny: number;
}

export interface Rules {
  version: string;
  year: number;
  /** R4: taps of one person on one vehicle within this many seconds of the group's first tap are one ride. */
  rideGroupSeconds: number;
  /** R5: a rating counts when rated within this many days of the ride. */
  ratingWindowDays: number;
  /** §4: a rating forwarded this many hours after ratedAt is flagged. */
  lateRatingForwardHours: number;
  /** R2: employer types whose in-service staff are eligible. */
  eligibleEmployerTypes: readonly EmployerType[];
  /** R8/R9 */
  listSize: number;
  annualMinRides: number;
  tiers: readonly AwardTier[];
  ceremonySize: number;
  /** R11 */
  noticeDays: number;
  /** R12 */
  periodGraceDays: number;
  /** R13 */
  anomalyMaxRidesPerDay: number;
  anomalyTwoVehiclesSeconds: number;
  /** R14 */
  volumeRepeatSeconds: number;
  /** R15: boardings target for the year, null until the office sets it. */
  volumeTarget: number | null;
  /** R16 */
  volumeItemPoints: number;
  volumePointsPerPercent: number;
  volumeZeroAtShortfallPercent: number;
  assessmentItems: Readonly<Record<AssessmentItem, number>>;
  scoreCap: number;
  /** R17 */
  linkedBaseShare: number;
  bonusAboveScore: number;
  fullSubsidyFromScore: number;
  cnyPerPoint: number;
  preProgrammeCityShare: number;
}

export const EMPLOYER_TYPES = [
  'agency', // 机关
  'institution', // 事业单位
  'soe', // 国有企业
  'other',
] as const;
export type EmployerType = (typeof EMPLOYER_TYPES)[number];

export const ASSESSMENT_ITEMS = ['safety', 'service', 'operations', 'public_response', 'social_responsibility'] as const;
export type AssessmentItem = (typeof ASSESSMENT_ITEMS)[number];

export const TIE_POLICIES = ['shared', 'first-reached'] as const;
export type TiePolicy = (typeof TIE_POLICIES)[number];

/** The 2022 source figures: 45.6万 × 1.8 × 365 × 12 %, fixed by the plan as 3595万. */
export const VOLUME_TARGET_2022 = 35_950_000;

export const BASE_RULES: Omit<Rules, 'version' | 'year' | 'volumeTarget'> = {
  rideGroupSeconds: 30 * 60,
  ratingWindowDays: 7,
  lateRatingForwardHours: 24,
  eligibleEmployerTypes: ['agency', 'institution', 'soe'],
  listSize: 2000,
  annualMinRides: 300,
  tiers: [
    { fromRank: 1, toRank: 10, amountCny: 2000 },
    { fromRank: 11, toRank: 100, amountCny: 1000 },
    { fromRank: 101, toRank: 1000, amountCny: 500 },
    { fromRank: 1001, toRank: 2000, amountCny: 200 },
  ],
  ceremonySize: 100,
  noticeDays: 7,
  periodGraceDays: 10,
  anomalyMaxRidesPerDay: 10,
  anomalyTwoVehiclesSeconds: 60,
  volumeRepeatSeconds: 120,
  volumeItemPoints: 50,
  volumePointsPerPercent: 3,
  volumeZeroAtShortfallPercent: 15,
  assessmentItems: { safety: 15, service: 6, operations: 8, public_response: 15, social_responsibility: 6 },
  scoreCap: 100,
  linkedBaseShare: 0.3,
  bonusAboveScore: 90,
  fullSubsidyFromScore: 85,
  cnyPerPoint: 500_000,
  preProgrammeCityShare: 0.5,
};

/** Default rules for a programme year; the office may store its own version in the database. */
export function defaultRules(year: number): Rules {
  return {
    ...BASE_RULES,
    version: `${year}.default`,
    year,
    volumeTarget: year === 2022 ? VOLUME_TARGET_2022 : null,
  };
}
