/** R15-R17 inputs: the year's volume target, the assessor's five item scores, the subsidy budget. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { DB, OperatorAssessmentsTable } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

// types.ts declares generated columns as Generated<Timestamp> / Generated<Int8>, which Kysely does not
// unwrap (a nested ColumnType): these casts state the real runtime types (Date, number).
export type AssessmentRecord = Selectable<OperatorAssessmentsTable>;
type Item = OperatorAssessmentsTable['item'];

export async function upsertAssessment(db: Db, a: { year: number; item: Item; score: number; note: string | null; enteredBy: string; enteredAt: Date }): Promise<void> {
  await db
    .insertInto('operator_assessments')
    .values({ year: a.year, item: a.item, score: a.score, note: a.note, entered_by: a.enteredBy, entered_at: a.enteredAt })
    .onConflict((oc) => oc.columns(['year', 'item']).doUpdateSet({ score: a.score, note: a.note, entered_by: a.enteredBy, entered_at: a.enteredAt }))
    .execute();
}

export async function listAssessments(db: Db, year: number): Promise<AssessmentRecord[]> {
  return db.selectFrom('operator_assessments').selectAll().where('year', '=', year).orderBy('item').execute();
}

export async function upsertVolumeTarget(db: Db, t: { year: number; target: number; setBy: string; setAt: Date }): Promise<void> {
  await db
    .insertInto('volume_targets')
    .values({ year: t.year, target: t.target, set_by: t.setBy, set_at: t.setAt })
    .onConflict((oc) => oc.column('year').doUpdateSet({ target: t.target, set_by: t.setBy, set_at: t.setAt }))
    .execute();
}

export async function findVolumeTarget(db: Db, year: number): Promise<number | undefined> {
  const r = await db.selectFrom('volume_targets').select('target').where('year', '=', year).executeTakeFirst();
  return r?.target;
}

export async function upsertSubsidyBudget(
  db: Db,
  b: { year: number; operatingSubsidyCny: number; preProgrammeSubsidyCny: number; setBy: string; setAt: Date },
): Promise<void> {
  const values = { operating_subsidy_cny: b.operatingSubsidyCny, pre_programme_subsidy_cny: b.preProgrammeSubsidyCny, set_by: b.setBy };
  await db
    .insertInto('subsidy_budgets')
    .values({ year: b.year, ...values, set_at: b.setAt })
    .onConflict((oc) => oc.column('year').doUpdateSet({ ...values, set_at: b.setAt }))
    .execute();
}

export async function findSubsidyBudget(db: Db, year: number): Promise<{ operatingSubsidyCny: number; preProgrammeSubsidyCny: number } | undefined> {
  const r = await db.selectFrom('subsidy_budgets').selectAll().where('year', '=', year).executeTakeFirst();
  return r && { operatingSubsidyCny: Number(r.operating_subsidy_cny), preProgrammeSubsidyCny: Number(r.pre_programme_subsidy_cny) };
}
