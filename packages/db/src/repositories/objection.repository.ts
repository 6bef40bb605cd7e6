/** R11 objections raised during a public notice, recorded and resolved by the office. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { DB, ObjectionsTable } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

// types.ts declares generated columns as Generated<Timestamp> / Generated<Int8>, which Kysely does not
// unwrap (a nested ColumnType): these casts state the real runtime types (Date, number).
export type ObjectionRecord = Selectable<ObjectionsTable>;

export async function insertObjection(
  db: Db,
  o: { snapshotId: string; personId: string | null; text: string; recordedBy: string; recordedAt: Date },
): Promise<ObjectionRecord> {
  return db
    .insertInto('objections')
    .values({ snapshot_id: o.snapshotId, person_id: o.personId, text: o.text, recorded_by: o.recordedBy, recorded_at: o.recordedAt })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findObjection(db: Db, id: number): Promise<ObjectionRecord | undefined> {
  return db.selectFrom('objections').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Resolves an open objection; undefined when it does not exist or was already resolved. */
export async function resolveObjection(db: Db, id: number, r: { resolution: string; resolvedBy: string; resolvedAt: Date }): Promise<ObjectionRecord | undefined> {
  return db
    .updateTable('objections')
    .set({ resolution: r.resolution, resolved_by: r.resolvedBy, resolved_at: r.resolvedAt })
    .where('id', '=', id)
    .where('resolved_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

export async function listObjections(db: Db, snapshotId: string): Promise<ObjectionRecord[]> {
  return db.selectFrom('objections').selectAll().where('snapshot_id', '=', snapshotId).orderBy('id').execute();
}

export async function countOpenObjections(db: Db, snapshotId: string): Promise<number> {
  const r = await db
    .selectFrom('objections')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('snapshot_id', '=', snapshotId)
    .where('resolved_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
