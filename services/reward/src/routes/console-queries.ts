/**
 * The few queries the console's endpoints need that no repository in packages/db offers yet.
 * STYLE.md wants every query in packages/db/src/repositories; these sit here only because the
 * console's owner may not edit that package. Move them to `ingest-health.repository.ts` and
 * `anomaly.repository.ts` there, export them from @ridetally/db, and delete this file.
 */
import { sql, type Database, type DB, type Transaction } from '@ridetally/db';

type Db = Database | Transaction<DB>;

/** Taps accepted by the validator API since `since` (ingest_batches holds one row per group commit). */
export async function sumTapsReceivedSince(db: Db, since: Date): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    SELECT coalesce(sum(tap_count), 0)::int AS n FROM ingest_batches WHERE received_at >= ${since.toISOString()}::timestamptz`.execute(db);
  return rows[0]?.n ?? 0;
}

/** Taps rejected into quarantine since `since`. */
export async function countQuarantinedSince(db: Db, since: Date): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM quarantined_taps WHERE received_at >= ${since.toISOString()}::timestamptz`.execute(db);
  return rows[0]?.n ?? 0;
}

export interface AnomalyListRow {
  id: number;
  kind: string;
  person_id: string | null;
  name_masked: string | null;
  period: string | null;
  details: unknown;
  status: 'open' | 'dismissed' | 'excluded';
  detected_at: Date;
  reviewed_by: string | null;
  reviewed_at: Date | null;
  review_reason: string | null;
}

/** R13 anomalies for review, newest first, with the person's masked name (never the full one). */
export async function listAnomalies(db: Db, filter: { status?: string | undefined; kind?: string | undefined; period?: string | undefined; limit: number }): Promise<AnomalyListRow[]> {
  const { rows } = await sql<AnomalyListRow>`
    SELECT a.id::int AS id, a.kind, a.person_id, p.name_masked, a.period, a.details, a.status, a.detected_at, a.reviewed_by, a.reviewed_at, a.review_reason
    FROM anomalies a LEFT JOIN persons p ON p.person_id = a.person_id
    WHERE (${filter.status ?? null}::text IS NULL OR a.status = ${filter.status ?? null})
      AND (${filter.kind ?? null}::text IS NULL OR a.kind = ${filter.kind ?? null})
      AND (${filter.period ?? null}::text IS NULL OR a.period = ${filter.period ?? null})
    ORDER BY a.detected_at DESC, a.id DESC
    LIMIT ${filter.limit}`.execute(db);
  return rows;
}

export async function findAnomaly(db: Db, id: number): Promise<AnomalyListRow | undefined> {
  const { rows } = await sql<AnomalyListRow>`
    SELECT a.id::int AS id, a.kind, a.person_id, p.name_masked, a.period, a.details, a.status, a.detected_at, a.reviewed_by, a.reviewed_at, a.review_reason
    FROM anomalies a LEFT JOIN persons p ON p.person_id = a.person_id WHERE a.id = ${id} FOR UPDATE OF a`.execute(db);
  return rows[0];
}

/** Closes an open anomaly as dismissed or excluded; false when it was not open any more. */
export async function reviewAnomaly(db: Db, id: number, review: { status: 'dismissed' | 'excluded'; by: string; at: Date; reason: string }): Promise<boolean> {
  const r = await sql`
    UPDATE anomalies SET status = ${review.status}, reviewed_by = ${review.by}, reviewed_at = ${review.at.toISOString()}::timestamptz, review_reason = ${review.reason}
    WHERE id = ${id} AND status = 'open'`.execute(db);
  return Number(r.numAffectedRows ?? 0) === 1;
}
