/**
 * The whole programme's schema (SPEC §2-§6). Frozen in time: uses Kysely<any> and raw SQL only,
 * never application code. Later changes are new migrations.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE EXTENSION IF NOT EXISTS btree_gist`.execute(db);

  // ---------------------------------------------------------------- registry
  await sql`
    CREATE TABLE routes (
      route_id text PRIMARY KEY,
      agency_id text,
      short_name text,
      long_name text,
      route_type integer NOT NULL DEFAULT 3,
      network_id text,
      is_city boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  await sql`
    CREATE TABLE vehicles (
      vehicle_id text PRIMARY KEY,
      plate text,
      label text,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  // A validator. Its secret is stored encrypted (device-secret key); a rotation keeps the previous
  // secret valid until previous_valid_until so devices in the field can pick up the new one.
  await sql`
    CREATE TABLE devices (
      device_id text PRIMARY KEY,
      vehicle_id text,
      secret_ciphertext bytea NOT NULL,
      previous_secret_ciphertext bytea,
      previous_valid_until timestamptz,
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
      created_at timestamptz NOT NULL DEFAULT now(),
      rotated_at timestamptz,
      revoked_at timestamptz,
      last_seen_at timestamptz,
      vendor text,
      model text
    )`.execute(db);

  // ---------------------------------------------------------------- taps
  // Identity of a tap is (device_id, seq). taps is partitioned by month of tapped_at, and a unique
  // key on a partitioned table must contain the partition key, so the identity lives here.
  await sql`
    CREATE TABLE tap_keys (
      device_id text NOT NULL,
      seq bigint NOT NULL,
      tap_id bigint NOT NULL,
      tapped_at timestamptz NOT NULL,
      content_hash bytea NOT NULL,
      PRIMARY KEY (device_id, seq)
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX tap_keys_tap_id ON tap_keys (tap_id)`.execute(db);
  await sql`CREATE SEQUENCE tap_id_seq AS bigint CACHE 100`.execute(db);

  // One group commit (several requests' taps written together) = one ingest batch.
  await sql`
    CREATE TABLE ingest_batches (
      batch_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      received_at timestamptz NOT NULL DEFAULT now(),
      tap_count integer NOT NULL,
      min_tapped_at timestamptz,
      max_tapped_at timestamptz
    )`.execute(db);

  await sql`
    CREATE TABLE taps (
      tap_id bigint NOT NULL,
      device_id text NOT NULL,
      seq bigint NOT NULL,
      tapped_at timestamptz NOT NULL,
      received_at timestamptz NOT NULL,
      batch_id bigint NOT NULL,
      vehicle_id text NOT NULL,
      route_id text NOT NULL,
      stop_id text,
      media_type text NOT NULL CHECK (media_type IN ('transit_card', 'ecard', 'qr', 'id_card')),
      media_kind text,
      -- the card / e-card / QR account id, or for id_card the keyed hash of the ID number
      media_key text NOT NULL,
      -- id_card only: the ID number encrypted with the pii key
      media_ciphertext bytea,
      PRIMARY KEY (tap_id, tapped_at)
    ) PARTITION BY RANGE (tapped_at)`.execute(db);
  await sql`CREATE INDEX taps_media ON taps (media_type, media_key, tapped_at)`.execute(db);
  await sql`CREATE INDEX taps_tapped_at ON taps USING brin (tapped_at)`.execute(db);
  await sql`CREATE INDEX taps_batch ON taps (batch_id)`.execute(db);
  await sql`CREATE INDEX taps_vehicle ON taps (vehicle_id, tapped_at)`.execute(db);
  await sql`CREATE TABLE taps_default PARTITION OF taps DEFAULT`.execute(db);

  // Creates the monthly partitions covering [from, to) that do not exist yet.
  await sql`
    CREATE FUNCTION ensure_tap_partitions(from_ts timestamptz, to_ts timestamptz) RETURNS integer
    LANGUAGE plpgsql AS $$
    DECLARE
      m timestamptz := date_trunc('month', from_ts AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai';
      created integer := 0;
      name text;
    BEGIN
      WHILE m < to_ts LOOP
        name := 'taps_' || to_char(m AT TIME ZONE 'Asia/Shanghai', 'YYYY_MM');
        IF to_regclass(name) IS NULL THEN
          EXECUTE format('CREATE TABLE %I PARTITION OF taps FOR VALUES FROM (%L) TO (%L)',
            name, m, ((m AT TIME ZONE 'Asia/Shanghai') + interval '1 month') AT TIME ZONE 'Asia/Shanghai');
          created := created + 1;
        END IF;
        m := ((m AT TIME ZONE 'Asia/Shanghai') + interval '1 month') AT TIME ZONE 'Asia/Shanghai';
      END LOOP;
      RETURN created;
    END $$`.execute(db);
  await sql`SELECT ensure_tap_partitions('2022-04-01T00:00:00+08:00', now() + interval '13 months')`.execute(db);

  // Rejected taps, kept for audit with their reason. An id_card number is never stored here in
  // clear: the payload has it replaced by its keyed hash.
  await sql`
    CREATE TABLE quarantined_taps (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      device_id text NOT NULL,
      seq bigint,
      received_at timestamptz NOT NULL DEFAULT now(),
      code text NOT NULL,
      message text NOT NULL,
      payload jsonb NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX quarantined_taps_device ON quarantined_taps (device_id, received_at)`.execute(db);

  // ---------------------------------------------------------------- identity and roster
  await sql`
    CREATE TABLE persons (
      person_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      id_hash text NOT NULL UNIQUE,
      id_ciphertext bytea NOT NULL,
      name_ciphertext bytea NOT NULL,
      name_masked text NOT NULL,
      phone_ciphertext bytea,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  await sql`
    CREATE TABLE employers (
      code text PRIMARY KEY,
      name text NOT NULL,
      type text NOT NULL CHECK (type IN ('agency', 'institution', 'soe', 'other')),
      city_area boolean NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  // In-service intervals (在职). in_service is a daterange of Shanghai calendar dates, [from, to+1).
  await sql`
    CREATE TABLE employments (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      person_id uuid NOT NULL REFERENCES persons,
      employer_code text NOT NULL REFERENCES employers,
      in_service daterange NOT NULL CHECK (NOT isempty(in_service)),
      created_at timestamptz NOT NULL DEFAULT now(),
      EXCLUDE USING gist (person_id WITH =, in_service WITH &&)
    )`.execute(db);
  await sql`CREATE INDEX employments_employer ON employments (employer_code)`.execute(db);

  // A medium bound to a person over [valid) (instants). One medium, one person at a time.
  await sql`
    CREATE TABLE media_bindings (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      person_id uuid NOT NULL REFERENCES persons,
      media_type text NOT NULL CHECK (media_type IN ('transit_card', 'ecard', 'qr', 'id_card')),
      media_kind text,
      media_key text NOT NULL,
      valid tstzrange NOT NULL CHECK (NOT isempty(valid)),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      EXCLUDE USING gist (media_type WITH =, media_key WITH =, valid WITH &&)
    )`.execute(db);
  await sql`CREATE INDEX media_bindings_person ON media_bindings (person_id)`.execute(db);

  // Rider-app integration clients (掌上公交 backend); the token is stored as a keyed hash.
  await sql`
    CREATE TABLE api_clients (
      client_id text PRIMARY KEY,
      name text NOT NULL,
      token_hash text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now(),
      revoked_at timestamptz
    )`.execute(db);

  // A rating names one tap; ride_first_tap_id is the first tap of that tap's ride when rated.
  // One rating per ride is a database constraint.
  await sql`
    CREATE TABLE ratings (
      rating_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      person_id uuid NOT NULL REFERENCES persons,
      tap_id bigint NOT NULL,
      ride_first_tap_id bigint NOT NULL,
      ride_tapped_at timestamptz NOT NULL,
      score smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
      comment text,
      rated_at timestamptz NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now(),
      late_forward boolean NOT NULL DEFAULT false,
      client_id text,
      UNIQUE (person_id, ride_first_tap_id)
    )`.execute(db);
  await sql`CREATE INDEX ratings_tap ON ratings (tap_id)`.execute(db);
  await sql`CREATE INDEX ratings_person_time ON ratings (person_id, ride_tapped_at)`.execute(db);

  // ---------------------------------------------------------------- rules and aggregation
  await sql`
    CREATE TABLE rules_versions (
      version text PRIMARY KEY,
      year integer NOT NULL,
      rules jsonb NOT NULL,
      created_by text,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE programme_years (
      year integer PRIMARY KEY,
      rules_version text NOT NULL REFERENCES rules_versions,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  // Transactional outbox: written in the same transaction as the facts it announces, relayed to the
  // job queue, marked processed by the worker. Jobs carry only the outbox id and references.
  await sql`
    CREATE TABLE outbox (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      topic text NOT NULL,
      payload jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      enqueued_at timestamptz,
      processed_at timestamptz,
      attempts integer NOT NULL DEFAULT 0,
      last_error text
    )`.execute(db);
  await sql`CREATE INDEX outbox_pending ON outbox (id) WHERE processed_at IS NULL`.execute(db);

  // Rides derived per person (R4) with their judgement (R1-R5); rebuilt per person and quarter.
  await sql`
    CREATE TABLE rides (
      person_id uuid NOT NULL,
      first_tap_id bigint NOT NULL,
      tapped_at timestamptz NOT NULL,
      vehicle_id text NOT NULL,
      route_id text NOT NULL,
      tap_ids bigint[] NOT NULL,
      quarter text NOT NULL,
      eligible boolean NOT NULL,
      rated boolean NOT NULL,
      counted boolean NOT NULL,
      excluded boolean NOT NULL DEFAULT false,
      rules_version text NOT NULL,
      PRIMARY KEY (person_id, first_tap_id)
    )`.execute(db);
  await sql`CREATE INDEX rides_person_quarter ON rides (person_id, quarter)`.execute(db);

  // Counted rides per person per period (R6); period is '2022-Q3' or '2022'.
  await sql`
    CREATE TABLE person_period_counts (
      person_id uuid NOT NULL,
      period text NOT NULL,
      rides integer NOT NULL,
      last_counted_at timestamptz,
      rules_version text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (person_id, period)
    )`.execute(db);
  await sql`CREATE INDEX person_period_counts_rank ON person_period_counts (period, rides DESC, last_counted_at, person_id)`.execute(db);

  // Passenger volume (R14) per Shanghai day and route; months and years are sums.
  await sql`
    CREATE TABLE volume_daily (
      service_date date NOT NULL,
      route_id text NOT NULL,
      boardings integer NOT NULL,
      taps integer NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (service_date, route_id)
    )`.execute(db);

  // R13
  await sql`
    CREATE TABLE anomalies (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('rides_per_day', 'two_vehicles', 'rating_without_ride', 'late_rating_forward')),
      person_id uuid,
      period text,
      key text NOT NULL,
      details jsonb NOT NULL,
      status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dismissed', 'excluded')),
      detected_at timestamptz NOT NULL DEFAULT now(),
      reviewed_by text,
      reviewed_at timestamptz,
      review_reason text,
      UNIQUE (kind, key)
    )`.execute(db);

  // Office exclusions (R13): a person for a period, or one ride (tap_id = any tap of the ride).
  await sql`
    CREATE TABLE exclusions (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      person_id uuid NOT NULL REFERENCES persons,
      period text NOT NULL,
      tap_id bigint,
      reason text NOT NULL,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      revoked_at timestamptz,
      revoked_by text
    )`.execute(db);
  await sql`CREATE INDEX exclusions_person ON exclusions (person_id, period)`.execute(db);

  // ---------------------------------------------------------------- staff, audit, lists
  await sql`
    CREATE TABLE staff_users (
      user_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      username text NOT NULL UNIQUE,
      display_name text,
      roles text[] NOT NULL,
      password_hash text NOT NULL,
      failed_logins integer NOT NULL DEFAULT 0,
      locked_until timestamptz,
      disabled_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE staff_sessions (
      token_hash text PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES staff_users,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz
    )`.execute(db);

  // Append-only, hash-chained: hash = sha256(prev_hash || canonical row).
  await sql`
    CREATE TABLE audit_log (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      at timestamptz NOT NULL DEFAULT now(),
      actor text NOT NULL,
      action text NOT NULL,
      subject text,
      reason text,
      details jsonb NOT NULL DEFAULT '{}',
      prev_hash text NOT NULL,
      hash text NOT NULL UNIQUE
    )`.execute(db);
  await sql`
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$`.execute(db);
  await sql`
    CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`.execute(db);

  // R10: a frozen list. Rows never change; a correction is a new version that supersedes.
  await sql`
    CREATE TABLE snapshots (
      snapshot_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      kind text NOT NULL CHECK (kind IN ('quarterly', 'annual')),
      period text NOT NULL,
      version integer NOT NULL,
      supersedes uuid REFERENCES snapshots,
      rules_version text NOT NULL,
      rules jsonb NOT NULL,
      tie_policy text NOT NULL CHECK (tie_policy IN ('shared', 'first-reached')),
      data_cutoff timestamptz NOT NULL,
      status text NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'submitted', 'returned', 'approved', 'in_notice', 'final', 'paid', 'superseded')),
      row_count integer NOT NULL,
      totals jsonb NOT NULL,
      content_sha256 text NOT NULL,
      notice_start date,
      notice_end date,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (kind, period, version)
    )`.execute(db);
  await sql`
    CREATE TABLE snapshot_rows (
      snapshot_id uuid NOT NULL REFERENCES snapshots,
      position integer NOT NULL,
      rank integer NOT NULL,
      person_id uuid NOT NULL,
      name_masked text NOT NULL,
      employer_code text,
      rides integer NOT NULL,
      last_counted_at timestamptz,
      award_cny integer,
      tie_note text,
      PRIMARY KEY (snapshot_id, person_id),
      UNIQUE (snapshot_id, position)
    )`.execute(db);
  await sql`
    CREATE TABLE snapshot_transitions (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      snapshot_id uuid NOT NULL REFERENCES snapshots,
      from_status text,
      to_status text NOT NULL,
      actor text NOT NULL,
      reason text,
      at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE objections (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      snapshot_id uuid NOT NULL REFERENCES snapshots,
      person_id uuid,
      text text NOT NULL,
      recorded_by text NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      resolution text,
      resolved_by text,
      resolved_at timestamptz
    )`.execute(db);
  await sql`
    CREATE TABLE payments (
      snapshot_id uuid NOT NULL REFERENCES snapshots,
      person_id uuid NOT NULL,
      amount_cny integer NOT NULL,
      reference text,
      paid_at timestamptz NOT NULL,
      recorded_by text NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (snapshot_id, person_id)
    )`.execute(db);

  // ---------------------------------------------------------------- operator assessment (R15-R17)
  await sql`
    CREATE TABLE volume_targets (
      year integer PRIMARY KEY,
      target bigint NOT NULL CHECK (target > 0),
      set_by text NOT NULL,
      set_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE operator_assessments (
      year integer NOT NULL,
      item text NOT NULL CHECK (item IN ('safety', 'service', 'operations', 'public_response', 'social_responsibility')),
      score numeric(6, 2) NOT NULL CHECK (score >= 0),
      note text,
      entered_by text NOT NULL,
      entered_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (year, item)
    )`.execute(db);
  await sql`
    CREATE TABLE subsidy_budgets (
      year integer PRIMARY KEY,
      operating_subsidy_cny bigint NOT NULL CHECK (operating_subsidy_cny >= 0),
      pre_programme_subsidy_cny bigint NOT NULL CHECK (pre_programme_subsidy_cny >= 0),
      set_by text NOT NULL,
      set_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('the initial schema has no down migration');
}
