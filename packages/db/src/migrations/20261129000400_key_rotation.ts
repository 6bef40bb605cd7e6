/**
 * Master-key rotations (`ridetally keys rotate`). Frozen in time: Kysely<any> and raw SQL only.
 * One row per (previous key, new key): when the first run started, so that a re-run after a crash
 * knows which staff sessions and client tokens predate the new key, and when a run finished.
 * Key ids are the public 4-byte ids ciphertexts carry (hex), never key material.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE key_rotations (
      from_key_id text NOT NULL,
      to_key_id text NOT NULL,
      started_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      PRIMARY KEY (from_key_id, to_key_id)
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS key_rotations`.execute(db);
}
