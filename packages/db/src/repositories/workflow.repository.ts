/** R11: every snapshot status change, with who, when and why. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { DB, SnapshotTransitionsTable } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

// types.ts declares generated columns as Generated<Timestamp> / Generated<Int8>, which Kysely does not
// unwrap (a nested ColumnType): these casts state the real runtime types (Date, number).
export type TransitionRecord = Selectable<SnapshotTransitionsTable>;

export async function insertTransition(
  db: Db,
  t: { snapshotId: string; from: string | null; to: string; actor: string; reason: string | null; at: Date },
): Promise<void> {
  await db
    .insertInto('snapshot_transitions')
    .values({ snapshot_id: t.snapshotId, from_status: t.from, to_status: t.to, actor: t.actor, reason: t.reason, at: t.at })
    .execute();
}

export async function listTransitions(db: Db, snapshotId: string): Promise<TransitionRecord[]> {
  return db.selectFrom('snapshot_transitions').selectAll().where('snapshot_id', '=', snapshotId).orderBy('id').execute();
}
