/**
 * Every staff-API call the console makes, in one place, with the response shapes it relies on.
 * Paths follow the reward service's routes (`services/reward/src/routes`).
 */
import { api, withQuery } from './api.js';

export type SnapshotKind = 'quarterly' | 'annual';
export type TiePolicy = 'shared' | 'first-reached';
export type SnapshotStatus = 'draft' | 'submitted' | 'returned' | 'approved' | 'in_notice' | 'final' | 'paid' | 'superseded';

export interface DashboardSummary {
  today: { date: string; boardings: number };
  month: { month: string; boardings: number };
  year: { year: number; boardings: number; target: number | null; completionPercent: number | null };
  monthly: { month: string; boardings: number }[];
  ingest: { tapsPerSecond: number; tapsLastHour: number; rejectedToday: number; activeDevices: number; silentDevices: number };
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

export interface Anomaly {
  id: number;
  kind: string;
  personId: string | null;
  nameMasked?: string | null;
  period: string | null;
  details: unknown;
  status: 'open' | 'dismissed' | 'excluded';
  detectedAt: string;
  reviewReason?: string | null;
}

export const ASSESSMENT_ITEMS = ['safety', 'service', 'operations', 'public_response', 'social_responsibility'] as const;
export type AssessmentItem = (typeof ASSESSMENT_ITEMS)[number];

export interface OperatorScore {
  year: number;
  volume: { boardings: number; target: number; completionPercent: number; points: number; explanation: string };
  items: { item: AssessmentItem; max: number; score: number | null; note?: string | null }[];
  total: number;
  subsidy?: { adjustmentCny: number; explanation: string; linkedBaseCny?: number; cityShareCny?: number; districtShareCny?: number } | null;
}

export interface Employer {
  code: string;
  name: string;
  type: string;
  cityArea: boolean;
  employees?: number;
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
}

type List<T> = T[] | { items: T[]; total?: number } | { rows: T[]; total?: number };

/** Lists come back either as arrays or wrapped; the console takes both. */
export function items<T>(list: List<T>): T[] {
  if (Array.isArray(list)) return list;
  return 'items' in list ? list.items : list.rows;
}

export const endpoints = {
  dashboard: () => api.get<DashboardSummary>('/api/console/dashboard'),
  rankings: (q: { period: string; tiePolicy?: TiePolicy; employer?: string; limit?: number }) => api.get<Ranking>('/api/rankings', q),
  snapshots: (q: { kind?: string; period?: string; status?: string } = {}) => api.get<List<SnapshotSummary>>('/api/snapshots', q).then(items),
  generateSnapshot: (body: { period: string; tiePolicy: TiePolicy }) => api.post<SnapshotSummary>('/api/snapshots', body),
  snapshot: (id: string) => api.get<SnapshotDetail>(`/api/snapshots/${encodeURIComponent(id)}`),
  snapshotRows: (id: string, q: { offset?: number; limit?: number; q?: string } = {}) =>
    api.get<List<SnapshotRow>>(`/api/snapshots/${encodeURIComponent(id)}/rows`, q),
  drift: (id: string) => api.get<Drift>(`/api/snapshots/${encodeURIComponent(id)}/drift`),
  transition: (id: string, action: 'submit' | 'return' | 'approve' | 'publish' | 'finalize', body: { reason?: string } = {}) =>
    api.post<SnapshotDetail>(`/api/snapshots/${encodeURIComponent(id)}/${action}`, body),
  objections: (id: string) => api.get<List<Objection>>(`/api/snapshots/${encodeURIComponent(id)}/objections`).then(items),
  payments: (id: string) => api.get<List<Payment>>(`/api/snapshots/${encodeURIComponent(id)}/payments`).then(items),
  recordObjection: (id: string, body: { text: string; personId?: string }) => api.post<Objection>(`/api/snapshots/${encodeURIComponent(id)}/objections`, body),
  resolveObjection: (id: string, objectionId: number, body: { resolution: string }) =>
    api.post<Objection>(`/api/snapshots/${encodeURIComponent(id)}/objections/${objectionId}/resolve`, body),
  recordPayment: (id: string, body: { personId: string; amountCny: number; reference?: string; paidAt?: string }) =>
    api.post<unknown>(`/api/snapshots/${encodeURIComponent(id)}/payments`, body),
  anomalies: (q: { status?: string; kind?: string; period?: string } = {}) => api.get<List<Anomaly>>('/api/anomalies', q).then(items),
  excludeAnomaly: (id: number, body: { reason: string }) => api.post<unknown>(`/api/anomalies/${id}/exclude`, body),
  dismissAnomaly: (id: number, body: { reason: string }) => api.post<unknown>(`/api/anomalies/${id}/dismiss`, body),
  operatorScore: (year: number) => api.get<OperatorScore>(`/api/operator/score/${year}`),
  saveAssessment: (year: number, body: { items: { item: AssessmentItem; score: number; note?: string }[] }) =>
    api.put<OperatorScore>(`/api/operator/assessment/${year}`, body),
  employers: (q: { q?: string } = {}) => api.get<List<Employer>>('/api/console/registry/employers', q).then(items),
  routes: () => api.get<List<RouteRow>>('/api/console/registry/routes').then(items),
  devices: () => api.get<List<Device>>('/api/console/registry/devices').then(items),
  audit: (q: { actor?: string; action?: string; from?: string; to?: string; subject?: string; limit?: number }) =>
    api.get<List<AuditEntry>>('/api/audit', q).then(items),
};

/** Download URLs (fetched with the session by `download()`). */
export const exportUrls = {
  rankings: (period: string, format: 'csv' | 'xlsx') => withQuery('/api/exports/rankings', { period, format }),
  snapshot: (id: string, format: 'csv' | 'xlsx') => withQuery(`/api/exports/snapshots/${encodeURIComponent(id)}`, { format }),
  notice: (id: string, format: 'html' | 'pdf') => withQuery(`/api/exports/snapshots/${encodeURIComponent(id)}/notice`, { format }),
  payments: (id: string, format: 'csv' | 'xlsx') => withQuery(`/api/exports/snapshots/${encodeURIComponent(id)}/payments`, { format }),
  tides: (from: string, to: string) => withQuery('/api/exports/tides', { from, to }),
};
