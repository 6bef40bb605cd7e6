/** R11 payments of an annual award list, one per person, recorded by the ecology bureau. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { DB, PaymentsTable } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

// types.ts declares generated columns as Generated<Timestamp> / Generated<Int8>, which Kysely does not
// unwrap (a nested ColumnType): these casts state the real runtime types (Date, number).
export type PaymentRecord = Selectable<PaymentsTable>;

/** Inserts a payment; undefined when the person was already paid for this snapshot. */
export async function insertPayment(
  db: Db,
  p: { snapshotId: string; personId: string; amountCny: number; reference: string | null; paidAt: Date; recordedBy: string; recordedAt: Date },
): Promise<PaymentRecord | undefined> {
  return db
    .insertInto('payments')
    .values({
      snapshot_id: p.snapshotId,
      person_id: p.personId,
      amount_cny: p.amountCny,
      reference: p.reference,
      paid_at: p.paidAt,
      recorded_by: p.recordedBy,
      recorded_at: p.recordedAt,
    })
    .onConflict((oc) => oc.columns(['snapshot_id', 'person_id']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function listPayments(db: Db, snapshotId: string): Promise<PaymentRecord[]> {
  return db.selectFrom('payments').selectAll().where('snapshot_id', '=', snapshotId).orderBy('recorded_at').execute();
}

/** Rows of the snapshot with no payment yet. */
export async function countUnpaidRows(db: Db, snapshotId: string): Promise<number> {
  const r = await db
    .selectFrom('snapshot_rows as r')
    .leftJoin('payments as p', (j) => j.onRef('p.snapshot_id', '=', 'r.snapshot_id').onRef('p.person_id', '=', 'r.person_id'))
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('r.snapshot_id', '=', snapshotId)
    .where('p.person_id', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
