/** R13 anomalies as the office reviews them (listing, dismissing, excluding). */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

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
