/**
 * Table types for Kysely, kept in step with migrations/ (checked by db.int.test.ts, which compares
 * these column lists with information_schema).
 */
import type { ColumnType, Generated } from 'kysely';

/** timestamptz: read as Date, written as Date or ISO string. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** date: read and written as 'yyyy-MM-dd' (type parsers are set so both drivers agree). */
export type CalendarDate = ColumnType<string, string, string>;
/** int8 ids: read as number (parsers set; ids stay far below 2^53). */
export type Int8 = ColumnType<number, number | bigint | string, number | bigint | string>;
/** numeric: read as string to keep exact decimals. */
export type Numeric = ColumnType<string, number | string, number | string>;
/** Ranges are written and read as their Postgres text form, e.g. '[2022-04-01,2023-01-01)'. */
export type RangeText = ColumnType<string, string, string>;
export type Json = ColumnType<unknown, string, string>;
/** A timestamptz with a database default (Kysely does not unwrap Generated<ColumnType<…>>). */
export type GeneratedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** An int8 identity or defaulted column. */
export type GeneratedInt8 = ColumnType<number, number | bigint | string | undefined, number | bigint | string>;

export interface RoutesTable {
  route_id: string;
  agency_id: string | null;
  short_name: string | null;
  long_name: string | null;
  route_type: Generated<number>;
  network_id: string | null;
  is_city: Generated<boolean>;
  created_at: GeneratedTimestamp;
  updated_at: GeneratedTimestamp;
}

export interface VehiclesTable {
  vehicle_id: string;
  plate: string | null;
  label: string | null;
  created_at: GeneratedTimestamp;
}

export interface DevicesTable {
  device_id: string;
  vehicle_id: string | null;
  secret_ciphertext: Buffer;
  previous_secret_ciphertext: Buffer | null;
  previous_valid_until: Timestamp | null;
  status: Generated<'active' | 'revoked'>;
  created_at: GeneratedTimestamp;
  rotated_at: Timestamp | null;
  revoked_at: Timestamp | null;
  last_seen_at: Timestamp | null;
  vendor: string | null;
  model: string | null;
}

export interface TapKeysTable {
  device_id: string;
  seq: Int8;
  tap_id: Int8;
  tapped_at: Timestamp;
  content_hash: Buffer;
}

export interface IngestBatchesTable {
  batch_id: GeneratedInt8;
  received_at: GeneratedTimestamp;
  tap_count: number;
  min_tapped_at: Timestamp | null;
  max_tapped_at: Timestamp | null;
}

export interface TapsTable {
  tap_id: Int8;
  device_id: string;
  seq: Int8;
  tapped_at: Timestamp;
  received_at: Timestamp;
  batch_id: Int8;
  vehicle_id: string;
  route_id: string;
  stop_id: string | null;
  media_type: 'transit_card' | 'ecard' | 'qr' | 'id_card';
  media_kind: string | null;
  media_key: string;
  media_ciphertext: Buffer | null;
}

export interface QuarantinedTapsTable {
  id: GeneratedInt8;
  device_id: string;
  seq: Int8 | null;
  received_at: GeneratedTimestamp;
  code: string;
  message: string;
  payload: Json;
  /** Generated: SHA-256 of code + payload; with (device_id, seq) the identity of a quarantined tap. */
  content_hash: ColumnType<Buffer, never, never>;
}

export interface PersonsTable {
  person_id: Generated<string>;
  id_hash: string;
  id_ciphertext: Buffer;
  name_ciphertext: Buffer;
  name_masked: string;
  phone_ciphertext: Buffer | null;
  created_at: GeneratedTimestamp;
  updated_at: GeneratedTimestamp;
}

export interface EmployersTable {
  code: string;
  name: string;
  type: 'agency' | 'institution' | 'soe' | 'other';
  city_area: boolean;
  created_at: GeneratedTimestamp;
  updated_at: GeneratedTimestamp;
}

export interface EmploymentsTable {
  id: GeneratedInt8;
  person_id: string;
  employer_code: string;
  in_service: RangeText;
  created_at: GeneratedTimestamp;
}

export interface MediaBindingsTable {
  id: GeneratedInt8;
  person_id: string;
  media_type: 'transit_card' | 'ecard' | 'qr' | 'id_card';
  media_kind: string | null;
  media_key: string;
  valid: RangeText;
  created_at: GeneratedTimestamp;
  updated_at: GeneratedTimestamp;
}

export interface ApiClientsTable {
  client_id: string;
  name: string;
  token_hash: string;
  created_at: GeneratedTimestamp;
  revoked_at: Timestamp | null;
}

export interface RatingsTable {
  rating_id: GeneratedInt8;
  person_id: string;
  tap_id: Int8;
  ride_first_tap_id: Int8;
  ride_tapped_at: Timestamp;
  score: number;
  comment: string | null;
  rated_at: Timestamp;
  received_at: GeneratedTimestamp;
  late_forward: Generated<boolean>;
  client_id: string | null;
}

export interface RulesVersionsTable {
  version: string;
  year: number;
  rules: Json;
  created_by: string | null;
  created_at: GeneratedTimestamp;
}

export interface ProgrammeYearsTable {
  year: number;
  rules_version: string;
  updated_at: GeneratedTimestamp;
}

export interface OutboxTable {
  id: GeneratedInt8;
  topic: string;
  payload: Json;
  created_at: GeneratedTimestamp;
  enqueued_at: Timestamp | null;
  processed_at: Timestamp | null;
  attempts: Generated<number>;
  last_error: string | null;
}

export interface RidesTable {
  person_id: string;
  first_tap_id: Int8;
  tapped_at: Timestamp;
  vehicle_id: string;
  route_id: string;
  tap_ids: ColumnType<number[], number[], number[]>;
  quarter: string;
  eligible: boolean;
  rated: boolean;
  counted: boolean;
  excluded: Generated<boolean>;
  rules_version: string;
}

export interface PersonPeriodCountsTable {
  person_id: string;
  period: string;
  rides: number;
  last_counted_at: Timestamp | null;
  rules_version: string;
  updated_at: GeneratedTimestamp;
}

export interface VolumeDailyTable {
  service_date: CalendarDate;
  route_id: string;
  boardings: number;
  taps: number;
  updated_at: GeneratedTimestamp;
}

export type AnomalyKind = 'rides_per_day' | 'two_vehicles' | 'rating_without_ride' | 'late_rating_forward';

export interface AnomaliesTable {
  id: GeneratedInt8;
  kind: AnomalyKind;
  person_id: string | null;
  period: string | null;
  key: string;
  details: Json;
  status: Generated<'open' | 'dismissed' | 'excluded'>;
  detected_at: GeneratedTimestamp;
  reviewed_by: string | null;
  reviewed_at: Timestamp | null;
  review_reason: string | null;
}

export interface ExclusionsTable {
  id: GeneratedInt8;
  person_id: string;
  period: string;
  tap_id: Int8 | null;
  reason: string;
  created_by: string;
  created_at: GeneratedTimestamp;
  revoked_at: Timestamp | null;
  revoked_by: string | null;
}

export type StaffRole = 'operator' | 'office' | 'eco_bureau' | 'assessor' | 'auditor' | 'admin';

export interface StaffUsersTable {
  user_id: Generated<string>;
  username: string;
  display_name: string | null;
  roles: ColumnType<StaffRole[], StaffRole[], StaffRole[]>;
  password_hash: string;
  failed_logins: Generated<number>;
  locked_until: Timestamp | null;
  disabled_at: Timestamp | null;
  created_at: GeneratedTimestamp;
}

export interface StaffSessionsTable {
  token_hash: string;
  user_id: string;
  created_at: GeneratedTimestamp;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
}

export interface AuditLogTable {
  id: GeneratedInt8;
  at: GeneratedTimestamp;
  actor: string;
  action: string;
  subject: string | null;
  reason: string | null;
  details: ColumnType<unknown, string | undefined, never>;
  prev_hash: string;
  hash: string;
}

export type SnapshotStatus =
  | 'draft'
  | 'submitted'
  | 'returned'
  | 'approved'
  | 'in_notice'
  | 'final'
  | 'paid'
  | 'superseded';

export interface SnapshotsTable {
  snapshot_id: Generated<string>;
  kind: 'quarterly' | 'annual';
  period: string;
  version: number;
  supersedes: string | null;
  rules_version: string;
  rules: Json;
  tie_policy: 'shared' | 'first-reached';
  data_cutoff: Timestamp;
  status: Generated<SnapshotStatus>;
  row_count: number;
  totals: Json;
  content_sha256: string;
  notice_start: CalendarDate | null;
  notice_end: CalendarDate | null;
  created_by: string;
  created_at: GeneratedTimestamp;
}

export interface SnapshotRowsTable {
  snapshot_id: string;
  position: number;
  rank: number;
  person_id: string;
  name_masked: string;
  employer_code: string | null;
  rides: number;
  last_counted_at: Timestamp | null;
  award_cny: number | null;
  tie_note: string | null;
}

export interface SnapshotTransitionsTable {
  id: GeneratedInt8;
  snapshot_id: string;
  from_status: string | null;
  to_status: string;
  actor: string;
  reason: string | null;
  at: GeneratedTimestamp;
}

export interface ObjectionsTable {
  id: GeneratedInt8;
  snapshot_id: string;
  person_id: string | null;
  text: string;
  recorded_by: string;
  recorded_at: GeneratedTimestamp;
  resolution: string | null;
  resolved_by: string | null;
  resolved_at: Timestamp | null;
}

export interface PaymentsTable {
  snapshot_id: string;
  person_id: string;
  amount_cny: number;
  reference: string | null;
  paid_at: Timestamp;
  recorded_by: string;
  recorded_at: GeneratedTimestamp;
}

export interface VolumeTargetsTable {
  year: number;
  target: Int8;
  set_by: string;
  set_at: GeneratedTimestamp;
}

export interface OperatorAssessmentsTable {
  year: number;
  item: 'safety' | 'service' | 'operations' | 'public_response' | 'social_responsibility';
  score: Numeric;
  note: string | null;
  entered_by: string;
  entered_at: GeneratedTimestamp;
}

export interface SubsidyBudgetsTable {
  year: number;
  operating_subsidy_cny: Int8;
  pre_programme_subsidy_cny: Int8;
  set_by: string;
  set_at: GeneratedTimestamp;
}

/** R14 judgement per tap (migration 20260104000000_aggregation). */
export interface TapBoardingsTable {
  tap_id: Int8;
  tapped_at: Timestamp;
  route_id: string;
  boarding: boolean;
}

export interface DB {
  routes: RoutesTable;
  vehicles: VehiclesTable;
  devices: DevicesTable;
  tap_keys: TapKeysTable;
  ingest_batches: IngestBatchesTable;
  taps: TapsTable;
  quarantined_taps: QuarantinedTapsTable;
  persons: PersonsTable;
  employers: EmployersTable;
  employments: EmploymentsTable;
  media_bindings: MediaBindingsTable;
  api_clients: ApiClientsTable;
  ratings: RatingsTable;
  rules_versions: RulesVersionsTable;
  programme_years: ProgrammeYearsTable;
  outbox: OutboxTable;
  rides: RidesTable;
  person_period_counts: PersonPeriodCountsTable;
  volume_daily: VolumeDailyTable;
  anomalies: AnomaliesTable;
  exclusions: ExclusionsTable;
  staff_users: StaffUsersTable;
  staff_sessions: StaffSessionsTable;
  audit_log: AuditLogTable;
  snapshots: SnapshotsTable;
  snapshot_rows: SnapshotRowsTable;
  snapshot_transitions: SnapshotTransitionsTable;
  objections: ObjectionsTable;
  payments: PaymentsTable;
  volume_targets: VolumeTargetsTable;
  operator_assessments: OperatorAssessmentsTable;
  subsidy_budgets: SubsidyBudgetsTable;
  tap_boardings: TapBoardingsTable;
}
