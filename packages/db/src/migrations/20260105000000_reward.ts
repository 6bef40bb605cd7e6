/**
 * Reward service: a plain btree on employments(person_id) for the per-person "employer at the
 * period's end" lookups of live rankings (the GiST exclusion index serves them, but a btree probe
 * is several times cheaper when 2000+ rows are looked up per request). Frozen in time.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX IF NOT EXISTS employments_person ON employments (person_id, lower(in_service))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS employments_person`.execute(db);
}
