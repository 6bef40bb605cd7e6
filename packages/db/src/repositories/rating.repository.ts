/**
 * Ratings (R5): one per ride, stored against the ride's first tap as grouped when rated. The
 * UNIQUE (person_id, ride_first_tap_id) constraint decides between concurrent ratings of one ride.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

export interface NewRating {
  person_id: string;
  tap_id: number;
  ride_first_tap_id: number;
  ride_tapped_at: Date;
  score: number;
  comment: string | null;
  rated_at: Date;
  received_at: Date;
  late_forward: boolean;
  client_id: string | null;
}

/**
 * What a rating request needs first, in one round trip: whether the person exists, and the rated
 * tap's time (through tap_keys, which is indexed on tap_id; undefined when there is no such tap).
 */
export async function findRatingTarget(db: Db, personId: string, tapId: number): Promise<{ personFound: boolean; tappedAt: Date | undefined }> {
  const { rows } = await sql<{ person_found: boolean; tapped_at: Date | null }>`
    SELECT EXISTS (SELECT 1 FROM persons WHERE person_id = ${personId}) AS person_found,
           (SELECT tapped_at FROM tap_keys WHERE tap_id = ${tapId}) AS tapped_at`.execute(db);
  const row = rows[0]!;
  return { personFound: row.person_found, tappedAt: row.tapped_at ?? undefined };
}

/**
 * Stores a rating of the ride made of `rideTapIds` in one statement (atomic, and one round trip
 * instead of a transaction of several): nothing when a rating of the person already names one of
 * those taps (stored against an earlier grouping of the ride: late taps can move its first tap) or
 * the ride's first tap (the UNIQUE (person_id, ride_first_tap_id) constraint, also between
 * concurrent requests); else the rating, its outbox entry (topic `rating`), and with
 * `lateForwardPeriod` (the ride's quarter) R13's `late_rating_forward` anomaly. Returns the new
 * rating id, or undefined when the ride is rated already.
 */
export async function insertRatingOnce(
  db: Db,
  r: NewRating,
  rideTapIds: readonly number[],
  lateForwardPeriod: string | null,
): Promise<number | undefined> {
  const { rows } = await sql<{ rating_id: number }>`
    WITH earlier AS (
      SELECT 1 FROM ratings
      WHERE person_id = ${r.person_id}::uuid
        AND (tap_id = ANY(${rideTapIds}::bigint[]) OR ride_first_tap_id = ANY(${rideTapIds}::bigint[]))
    ), inserted AS (
      INSERT INTO ratings (person_id, tap_id, ride_first_tap_id, ride_tapped_at, score, comment, rated_at, received_at, late_forward, client_id)
      SELECT ${r.person_id}::uuid, ${r.tap_id}::bigint, ${r.ride_first_tap_id}::bigint, ${r.ride_tapped_at}::timestamptz, ${r.score}::smallint,
             ${r.comment}::text, ${r.rated_at}::timestamptz, ${r.received_at}::timestamptz, ${r.late_forward}::boolean, ${r.client_id}::text
      WHERE NOT EXISTS (SELECT 1 FROM earlier)
      ON CONFLICT (person_id, ride_first_tap_id) DO NOTHING
      RETURNING rating_id
    ), anomaly AS (
      INSERT INTO anomalies (kind, person_id, period, key, details)
      SELECT 'late_rating_forward', ${r.person_id}::uuid, ${lateForwardPeriod}::text, 'rating:' || rating_id,
             jsonb_build_object('ratingId', rating_id, 'ratedAt', ${r.rated_at.toISOString()}::text, 'receivedAt', ${r.received_at.toISOString()}::text)
      FROM inserted
      WHERE ${lateForwardPeriod}::text IS NOT NULL
      ON CONFLICT (kind, key) DO NOTHING
    ), outbox_entry AS (
      INSERT INTO outbox (topic, payload) SELECT 'rating', jsonb_build_object('ratingId', rating_id) FROM inserted
    )
    SELECT rating_id FROM inserted`.execute(db);
  return rows[0]?.rating_id;
}
