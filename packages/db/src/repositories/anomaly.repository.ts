/** R13 anomalies for the office's review. Recorded once per (kind, key); never deleted here. */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { AnomalyKind, DB } from '../types';
import { toPgInstant } from './aggregation.repository';

type Db = Kysely<DB> | Transaction<DB>;

export interface NewAnomaly {
  kind: AnomalyKind;
  personId: string | null;
  period: string | null;
  key: string;
  /** References and figures only: never names, ID numbers or card numbers. */
  details: Record<string, unknown>;
}

/** Records anomalies; an existing (kind, key) keeps its review status and gets the latest details. */
export async function recordAnomalies(db: Db, anomalies: readonly NewAnomaly[]): Promise<void> {
  if (anomalies.length === 0) return;
  const unique = [...new Map(anomalies.map((a) => [`${a.kind}|${a.key}`, a])).values()];
  await db
    .insertInto('anomalies')
    .values(
      unique.map((a) => ({
        kind: a.kind,
        person_id: a.personId,
        period: a.period,
        key: a.key,
        details: JSON.stringify(a.details),
      })),
    )
    .onConflict((oc) =>
      oc.columns(['kind', 'key']).doUpdateSet((eb) => ({ details: eb.ref('excluded.details') })),
    )
    .execute();
}

/** Persons' Shanghai days in [from, to) with more than `max` counted rides. */
export async function findBusyDaysOfPersons(
  db: Db,
  personIds: readonly string[],
  fromMs: number,
  toMs: number,
  max: number,
): Promise<{ personId: string; date: string; quarter: string; rides: number }[]> {
  if (personIds.length === 0) return [];
  const { rows } = await sql<{ person_id: string; date: string; quarter: string; rides: number }>`
    SELECT person_id, (tapped_at AT TIME ZONE 'Asia/Shanghai')::date AS date, min(quarter) AS quarter, count(*)::int AS rides
    FROM rides
    WHERE counted AND person_id = ANY(${personIds}::uuid[])
      AND tapped_at >= ${toPgInstant(fromMs)}::timestamptz AND tapped_at < ${toPgInstant(toMs)}::timestamptz
    GROUP BY 1, 2 HAVING count(*) > ${max}`.execute(db);
  return rows.map((r) => ({ personId: r.person_id, date: r.date, quarter: r.quarter, rides: r.rides }));
}

export async function countAnomalies(db: Db, kind: AnomalyKind): Promise<number> {
  const r = await db
    .selectFrom('anomalies')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('kind', '=', kind)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
