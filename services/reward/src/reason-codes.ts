/**
 * The codes of the staff API's rule explanations and the names of their parameters, and the detail
 * fields of each R13 anomaly kind: what a client translates. Imports nothing, so the browser console
 * can check its dictionary against it (`@ridetally/reward/reason-codes`,
 * services/console/web/i18n.test.ts): every code a `reason.<code>` message with exactly these
 * placeholders, every anomaly kind and detail field a label.
 */
export const REASON_PARAMS = {
  'target.office': [],
  'target.rules': ['rulesVersion'],
  'target.none': [],
  'volume.noTarget': [],
  'volume.above': ['pct', 'points', 'base', 'per', 'score'],
  'volume.below': ['pct', 'points', 'base', 'per', 'score'],
  'volume.zero': ['pct', 'points', 'zeroAt'],
  'month.target': ['monthTarget'],
  'month.noTarget': [],
  'item.entered': ['max'],
  'item.notEntered': [],
  'total.sum': ['sum', 'cap'],
  'total.capped': ['sum', 'cap'],
  'subsidy.linkedBase': ['sharePercent', 'operatingCny', 'linkedBaseCny'],
  'subsidy.bonus': ['score', 'bonusFrom', 'points', 'cnyPerPoint', 'adjustmentCny'],
  'subsidy.full': ['fullFrom', 'score', 'bonusFrom'],
  'subsidy.deduction': ['score', 'fullFrom', 'points', 'cnyPerPoint', 'deductionCny'],
  'subsidy.deductionCapped': ['score', 'fullFrom', 'points', 'cnyPerPoint', 'rawCny', 'linkedBaseCny'],
  'subsidy.split': ['sharedCny', 'cityTenths', 'districtTenths', 'districtCny', 'increaseCny', 'cityCny'],
  'subsidy.noBudget': [],
} as const satisfies Record<string, readonly string[]>;

export type ReasonCode = keyof typeof REASON_PARAMS;
export const REASON_CODES = Object.keys(REASON_PARAMS) as ReasonCode[];

/** The `details` fields of each anomaly kind (R13), as the aggregator and rating intake record them. */
export const ANOMALY_DETAIL_FIELDS = {
  rides_per_day: ['date', 'rides'],
  two_vehicles: ['firstTapIds', 'vehicleIds', 'seconds'],
  rating_without_ride: ['ratingId', 'tapId'],
  late_rating_forward: ['ratingId', 'ratedAt', 'receivedAt'],
} as const satisfies Record<string, readonly string[]>;

export type AnomalyKindCode = keyof typeof ANOMALY_DETAIL_FIELDS;
export const ANOMALY_KIND_CODES = Object.keys(ANOMALY_DETAIL_FIELDS) as AnomalyKindCode[];

/** The tie-group crossing lines of a list (R7/R9) as stated in a row's tie note. */
export interface TieReason {
  policy: 'shared' | 'first-reached';
  size: number;
  rides: number;
  /** The shared rank (null under first-reached: each keeps their own). */
  rank: number | null;
  fromPosition: number;
  toPosition: number;
  /** The list line (listSize) when the group crosses it. */
  listLine: number | null;
  /** Tier boundaries crossed, as the last rank of the tier before each. */
  tierBoundariesAfter: number[];
}
