/**
 * Every staff-API call the console makes, in one place, with the response shapes it relies on.
 * Paths follow the reward service's routes (`services/reward/src/routes`).
 */
import { api, withQuery } from './api.js';

export type SnapshotKind = 'quarterly' | 'annual';
export type TiePolicy = 'shared' | 'first-reached';
export type SnapshotStatus = 'draft' | 'submitted' | 'returned' | 'approved' | 'in_notice' | 'final' | 'paid' | 'superseded';

/**
 * A rule explanation as a stable code and its figures, sent beside the English sentence
 * (services/reward/src/reason-codes.ts); the console says it with `describeReason`.
 */
export interface Reason {
  code: string;
  params: Record<string, string | number>;
}

/** A row's tie note (R7/R9) in figures (the server's type: its codes module imports nothing). */
import type { TieReason } from '@ridetally/reward/reason-codes';
export type { TieReason };

/**
 * GET /api/console/dashboard (services/reward/src/routes/console-dashboard.routes.ts): today's and
 * this month's boardings on all routes (R14), and ingest health.
 */
export interface DashboardSummary {
  today: { date: string; boardings: number };
  month: { month: string; boardings: number };
  year: number;
  ingest: { tapsLastHour: number; tapsPerSecond: number; rejectedToday: number; activeDevices: number; silentDevices: number };
}

/** GET /api/assessment/:year/volume: city-area boardings against the target (R14-R16). */
export interface VolumeReport {
  year: number;
  target: number | null;
  targetSource: string;
  targetSourceReason?: Reason;
  boardings: number;
  completionPercent: number | null;
  volumeScore: number | null;
  explanation: string;
  reason?: Reason;
  monthly: { month: string; boardings: number; target: number | null; completionPercent: number | null }[];
}

export interface RankingRow {
  position?: number;
  rank: number;
  personId: string;
  nameMasked: string;
  employerCode: string | null;
  employerName?: string | null;
  rides: number;
  awardCny?: number | null;
  tieNote?: string | null;
  tie?: TieReason | null;
}

export interface Ranking {
  period: string;
  kind?: SnapshotKind;
  tiePolicy: TiePolicy;
  rows: RankingRow[];
  totals?: SnapshotTotals;
}

export interface SnapshotSummary {
  snapshotId: string;
  kind: SnapshotKind;
  period: string;
  version: number;
  status: SnapshotStatus;
  tiePolicy: TiePolicy;
  rowCount: number;
  createdAt: string;
  createdBy?: string;
  supersedes?: string | null;
  noticeStart?: string | null;
  noticeEnd?: string | null;
}

export interface TierTotal {
  fromRank: number;
  toRank: number;
  amountCny: number;
  persons: number;
  totalCny: number;
}

/** The domain's list totals (packages/domain/src/awards.ts). */
export interface SnapshotTotals {
  persons: number;
  rides: number;
  tiers?: TierTotal[];
  totalCny?: number;
  nominalBudgetCny?: number;
  exceedsNominalBudget?: boolean;
}

export interface SnapshotRow {
  position: number;
  rank: number;
  personId: string;
  nameMasked: string;
  employerCode: string | null;
  rides: number;
  lastCountedAt?: string | null;
  awardCny: number | null;
  tieNote: string | null;
  tie?: TieReason | null;
}

export interface Transition {
  from: string | null;
  to: string;
  actor: string;
  reason: string | null;
  at: string;
}

export interface Objection {
  id: number;
  personId: string | null;
  text: string;
  recordedBy: string;
  recordedAt: string;
  resolution: string | null;
  resolvedAt: string | null;
}

export interface Payment {
  personId: string;
  amountCny: number;
  reference: string | null;
  paidAt: string;
  recordedBy?: string;
}

export interface Drift {
  drifted: boolean;
  changedRows: { personId: string; snapshotRides: number; liveRides: number; snapshotRank: number; liveRank: number | null }[];
  entrants: { personId: string; liveRides: number; liveRank: number }[];
  leavers: { personId: string; snapshotRides: number; snapshotRank: number }[];
}

export interface SnapshotDetail extends SnapshotSummary {
  rulesVersion: string;
  dataCutoff: string;
  contentSha256: string;
  noticeStart: string | null;
  noticeEnd: string | null;
  totals: SnapshotTotals;
  rows?: SnapshotRow[];
  transitions?: Transition[];
}

/** GET /api/anomalies (R13). */
export interface Anomaly {
  id: number;
  kind: string;
  personId: string | null;
  nameMasked?: string | null;
  period: string | null;
  details: unknown;
  status: 'open' | 'dismissed' | 'excluded';
  detectedAt: string;
  reviewedBy?: string | null;
  reviewReason?: string | null;
}

export const ASSESSMENT_ITEMS = ['safety', 'service', 'operations', 'public_response', 'social_responsibility'] as const;
export type AssessmentItem = (typeof ASSESSMENT_ITEMS)[number];

/** GET /api/assessment/:year/score (R16-R17). */
export interface OperatorScore {
  year: number;
  rulesVersion: string;
  volume: { boardings: number; target: number; completionPercent: number | null };
  items: { item: string; score: number; max: number | null; explanation: string; reason?: Reason }[];
  sum: number;
  total: number;
  complete: boolean;
  explanation: string;
  reason?: Reason;
  subsidy: {
    score: number;
    band: 'bonus' | 'full' | 'deduction';
    linkedBaseCny: number;
    wholePoints: number;
    adjustmentCny: number;
    settledCny: number;
    cityCny: number;
    districtCny: number;
    explanations: string[];
    reasons?: Reason[];
  } | null;
  subsidyExplanation: string | null;
  subsidyReason?: Reason | null;
}

export interface Employer {
  code: string;
  name: string;
  type: string;
  cityArea: boolean;
}

export interface RouteRow {
  routeId: string;
  shortName: string | null;
  longName: string | null;
  isCity: boolean;
}

export interface Device {
  deviceId: string;
  vehicleId: string | null;
  status: string;
  lastSeenAt: string | null;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  subject: string | null;
  reason: string | null;
  details?: unknown;
}

type List<T> = T[] | { items: T[]; total?: number } | { rows: T[]; total?: number };

/** Lists come back either as arrays or wrapped; the console takes both. */
export function items<T>(list: List<T>): T[] {
  if (Array.isArray(list)) return list;
  return 'items' in list ? list.items : list.rows;
}

const enc = encodeURIComponent;

export const endpoints = {
  dashboard: () => api.get<DashboardSummary>('/api/console/dashboard'),
  volume: (year: number) => api.get<VolumeReport>(`/api/assessment/${year}/volume`),
  rankings: (q: { period: string; tiePolicy?: TiePolicy; limit?: number }) => api.get<Ranking>('/api/rankings', q),
  snapshots: (q: { kind?: string; period?: string; status?: string } = {}) => api.get<List<SnapshotSummary>>('/api/snapshots', q).then(items),
  generateSnapshot: (body: { period: string; tiePolicy: TiePolicy }) => api.post<SnapshotSummary>('/api/snapshots', body),
  snapshot: (id: string) => api.get<SnapshotDetail>(`/api/snapshots/${enc(id)}`),
  drift: (id: string) => api.get<Drift>(`/api/snapshots/${enc(id)}/drift`),
  transition: (id: string, action: 'submit' | 'return' | 'approve' | 'publish' | 'finalize', body: { reason?: string } = {}) =>
    api.post<SnapshotSummary>(`/api/snapshots/${enc(id)}/${action}`, body),
  correct: (id: string, body: { reason: string; tiePolicy?: TiePolicy }) => api.post<SnapshotSummary>(`/api/snapshots/${enc(id)}/corrections`, body),
  exclude: (id: string, body: { personId: string; reason: string }) =>
    api.post<{ exclusionId: number; newVersion: SnapshotSummary | null; correctionPending: boolean }>(`/api/snapshots/${enc(id)}/exclusions`, body),
  objections: (id: string) => api.get<List<Objection>>(`/api/snapshots/${enc(id)}/objections`).then(items),
  recordObjection: (id: string, body: { text: string; personId?: string }) => api.post<Objection>(`/api/snapshots/${enc(id)}/objections`, body),
  resolveObjection: (objectionId: number, body: { resolution: string }) => api.post<Objection>(`/api/objections/${objectionId}/resolve`, body),
  payments: (id: string) => api.get<List<Payment>>(`/api/snapshots/${enc(id)}/payments`).then(items),
  recordPayment: (id: string, body: { personId: string; amountCny: number; reference?: string; paidAt?: string }) =>
    api.post<{ unpaidRemaining: number; status: string }>(`/api/snapshots/${enc(id)}/payments`, body),
  anomalies: (q: { status?: string; kind?: string; period?: string } = {}) => api.get<List<Anomaly>>('/api/anomalies', q).then(items),
  dismissAnomaly: (id: number, body: { reason: string }) => api.post<Anomaly>(`/api/anomalies/${id}/dismiss`, body),
  excludeAnomaly: (id: number, body: { reason: string }) =>
    api.post<{ anomalyId: number; exclusionId: number | null; newVersion: { snapshotId: string; version: number } | null }>(`/api/anomalies/${id}/exclude`, body),
  operatorScore: (year: number) => api.get<OperatorScore>(`/api/assessment/${year}/score`),
  enterItem: (year: number, item: AssessmentItem, body: { score: number; note?: string | null }) => api.put<unknown>(`/api/assessment/${year}/items/${item}`, body),
  setTarget: (year: number, body: { target: number; reason?: string }) => api.put<unknown>(`/api/assessment/${year}/target`, body),
  setBudget: (year: number, body: { operatingSubsidyCny: number; preProgrammeSubsidyCny: number; reason?: string }) => api.put<unknown>(`/api/assessment/${year}/budget`, body),
  employers: () => api.get<List<Employer>>('/api/console/registry/employers').then(items),
  routes: () => api.get<List<RouteRow>>('/api/console/registry/routes').then(items),
  devices: () => api.get<List<Device>>('/api/console/registry/devices').then(items),
  audit: (q: { afterId?: number; limit?: number; subject?: string }) => api.get<List<AuditEntry>>('/api/audit', q).then(items),
};

/** Download URLs (fetched with the session by `download()`). */
export const exportUrls = {
  rankings: (period: string, format: 'csv' | 'xlsx', tiePolicy: TiePolicy = 'shared') => withQuery('/api/rankings/export', { period, format, tiePolicy }),
  snapshot: (id: string, format: 'csv' | 'xlsx') => withQuery(`/api/snapshots/${enc(id)}/export`, { format }),
  notice: (id: string, format: 'html' | 'pdf') => `/api/snapshots/${enc(id)}/notice.${format}`,
  payments: (id: string, format: 'csv' | 'xlsx') => withQuery(`/api/snapshots/${enc(id)}/payment-list`, { format }),
  tides: (from: string, to: string) => withQuery('/api/exports/tides/fare-transactions', { from, to }),
};
