/**
 * Quarantine de-duplication: a validator that replays a batch holding a rejected tap must not add a
 * second quarantine row. A quarantined tap is identified by (device_id, seq, content_hash), where
 * content_hash is SHA-256 of the rejection code and the stored payload in jsonb's normal form (key
 * order and spacing of the device's JSON do not matter). The hash is a generated column, so every
 * writer (the group commit, tests, tools) gets it without computing it; seq may be NULL (a tap with
 * no usable seq), hence NULLS NOT DISTINCT. Rows already duplicated are collapsed to the earliest
 * receipt (received_at, then id) before the unique index is built, and the collapse is audited.
 * Frozen in time.
 */
import { sql, type Kysely } from 'kysely';
import { appendAudit } from '../repositories/audit.repository';

export async function up(db: Kysely<any>): Promise<void> {
  // convert_to is STABLE only because an encoding could change; the server encoding of a database
  // cannot, so the wrapper is honestly IMMUTABLE (a generated column needs that).
  await sql`
    CREATE FUNCTION quarantine_content_hash(code text, payload jsonb) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT sha256(convert_to(code || E'\n' || payload::text, 'UTF8')) $$`.execute(db);
  await sql`
    ALTER TABLE quarantined_taps
      ADD COLUMN content_hash bytea NOT NULL GENERATED ALWAYS AS (quarantine_content_hash(code, payload)) STORED`.execute(db);
  const { rows } = await sql<{ id: string }>`
    DELETE FROM quarantined_taps q
    USING (
      SELECT id, row_number() OVER (PARTITION BY device_id, seq, content_hash ORDER BY received_at, id) AS n
      FROM quarantined_taps
    ) d
    WHERE q.id = d.id AND d.n > 1
    RETURNING q.id`.execute(db);
  await sql`
    CREATE UNIQUE INDEX quarantined_taps_identity ON quarantined_taps (device_id, seq, content_hash) NULLS NOT DISTINCT`.execute(db);
  if (rows.length > 0) {
    await appendAudit(
      db,
      {
        actor: 'migration',
        action: 'quarantine.deduplicate',
        subject: 'quarantined_taps',
        reason: 'replayed receipts of the same rejected tap collapsed to the earliest (20261129000300_quarantine_dedupe)',
        details: { removedRows: rows.length },
      },
      new Date(),
    );
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS quarantined_taps_identity`.execute(db);
  await sql`ALTER TABLE quarantined_taps DROP COLUMN IF EXISTS content_hash`.execute(db);
  await sql`DROP FUNCTION IF EXISTS quarantine_content_hash(text, jsonb)`.execute(db);
}
