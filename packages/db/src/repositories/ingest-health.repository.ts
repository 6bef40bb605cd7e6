/** Ingest health for the staff dashboard: what the validator API accepted and refused. */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

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
