/** Employers (用人单位): code, name, type and city-area flag (R2). */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB, EmployersTable } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

export interface EmployerRow {
  code: string;
  name: string;
  type: EmployersTable['type'];
  city_area: boolean;
}

export async function findEmployers(db: Db, codes?: readonly string[]): Promise<EmployerRow[]> {
  let q = db.selectFrom('employers').select(['code', 'name', 'type', 'city_area']).orderBy('code');
  if (codes) {
    if (codes.length === 0) return [];
    q = q.where('code', '=', sql<string>`ANY(${codes as string[]}::text[])`);
  }
  return q.execute();
}

/** Inserts or updates employers in one statement (unnest). */
export async function upsertEmployers(db: Db, employers: readonly EmployerRow[], at: Date): Promise<void> {
  if (employers.length === 0) return;
  await sql`
    INSERT INTO employers (code, name, type, city_area)
    SELECT * FROM unnest(
      ${employers.map((e) => e.code)}::text[],
      ${employers.map((e) => e.name)}::text[],
      ${employers.map((e) => e.type)}::text[],
      ${employers.map((e) => e.city_area)}::boolean[])
    ON CONFLICT (code) DO UPDATE
      SET name = excluded.name, type = excluded.type, city_area = excluded.city_area, updated_at = ${at}`.execute(db);
}
