/**
 * Roster: in-service intervals (在职) of persons with employers. `in_service` is a daterange of
 * Shanghai calendar dates [from, to+1); the database refuses two overlapping employments of one person.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

export interface EmploymentRow {
  id: number;
  person_id: string;
  employer_code: string;
  /** first in-service date, yyyy-MM-dd */
  from: string;
  /** last in-service date (inclusive), or null when open-ended */
  to: string | null;
}

export interface NewEmployment {
  person_id: string;
  employer_code: string;
  from: string;
  to: string | null;
}

/** The employments of these persons, by person then start date. */
export async function findEmploymentsOfPersons(db: Db, personIds: readonly string[]): Promise<EmploymentRow[]> {
  if (personIds.length === 0) return [];
  const { rows } = await sql<EmploymentRow>`
    SELECT id, person_id, employer_code,
           to_char(lower(in_service), 'YYYY-MM-DD') AS "from",
           to_char(upper(in_service) - 1, 'YYYY-MM-DD') AS "to"
    FROM employments
    WHERE person_id = ANY(${personIds}::uuid[])
    ORDER BY person_id, lower(in_service)`.execute(db);
  return rows;
}

/** Inserts employments in one statement; `to` inclusive (stored as [from, to+1)). */
export async function insertEmployments(db: Db, rows: readonly NewEmployment[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    INSERT INTO employments (person_id, employer_code, in_service)
    SELECT p, e, daterange(f, t + 1, '[)')
    FROM unnest(
      ${rows.map((r) => r.person_id)}::uuid[],
      ${rows.map((r) => r.employer_code)}::text[],
      ${rows.map((r) => r.from)}::date[],
      ${rows.map((r) => r.to)}::date[]) AS x(p, e, f, t)`.execute(db);
}

export async function deleteEmployments(db: Db, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`DELETE FROM employments WHERE id = ANY(${ids}::bigint[])`.execute(db);
}
