/**
 * R13 office exclusions: a person for a period, or one ride (tap_id). Each insert also appends an
 * `exclusion` outbox entry in the same transaction, so the aggregator recounts the person's period.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { DB, ExclusionsTable } from '../types';
import { appendOutbox } from './outbox.repository';

type Db = Kysely<DB> | Transaction<DB>;

// types.ts declares generated columns as Generated<Timestamp> / Generated<Int8>, which Kysely does not
// unwrap (a nested ColumnType): these casts state the real runtime types (Date, number).
export type ExclusionRecord = Selectable<ExclusionsTable>;

export async function insertExclusion(
  trx: Transaction<DB>,
  e: { personId: string; period: string; tapId: number | null; reason: string; createdBy: string; createdAt: Date },
): Promise<ExclusionRecord> {
  const row = await trx
    .insertInto('exclusions')
    .values({ person_id: e.personId, period: e.period, tap_id: e.tapId, reason: e.reason, created_by: e.createdBy, created_at: e.createdAt })
    .returningAll()
    .executeTakeFirstOrThrow();
  await appendOutbox(trx, { topic: 'exclusion', payload: { personId: e.personId, period: e.period } });
  return row;
}

export async function listExclusions(db: Db, period: string): Promise<ExclusionRecord[]> {
  return db.selectFrom('exclusions').selectAll().where('period', '=', period).orderBy('id').execute();
}

/** Persons excluded as a whole (no tap_id) from a period and not revoked. */
export async function listExcludedPersons(db: Db, period: string): Promise<string[]> {
  const rows = await db
    .selectFrom('exclusions')
    .select('person_id')
    .distinct()
    .where('period', '=', period)
    .where('tap_id', 'is', null)
    .where('revoked_at', 'is', null)
    .execute();
  return rows.map((r) => r.person_id);
}
