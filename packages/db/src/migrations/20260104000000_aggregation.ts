/**
 * Aggregation helpers (issue 4). Frozen in time: Kysely<any> and raw SQL only.
 * - tap_boardings: R14's judgement per tap (boarding or repeat). The incremental volume path compares
 *   a re-derived neighbourhood with these flags and applies exact deltas to volume_daily; the
 *   recompute rebuilds them. A tap with no row has not been counted in volume yet.
 * - rides_person_time: the incremental path replaces a person's rides in a time stretch.
 * - rides_route: a route's registration re-derives the persons who rode it.
 * - outbox_unenqueued: the relay's scan.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE tap_boardings (
      tap_id bigint PRIMARY KEY,
      tapped_at timestamptz NOT NULL,
      route_id text NOT NULL,
      boarding boolean NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX tap_boardings_time ON tap_boardings (tapped_at)`.execute(db);
  await sql`CREATE INDEX rides_person_time ON rides (person_id, tapped_at, first_tap_id)`.execute(db);
  await sql`CREATE INDEX rides_route ON rides (route_id)`.execute(db);
  await sql`CREATE INDEX outbox_unenqueued ON outbox (id) WHERE processed_at IS NULL AND enqueued_at IS NULL`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS outbox_unenqueued`.execute(db);
  await sql`DROP INDEX IF EXISTS rides_route`.execute(db);
  await sql`DROP INDEX IF EXISTS rides_person_time`.execute(db);
  await sql`DROP TABLE IF EXISTS tap_boardings`.execute(db);
}
