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

export interface RatingRef {
  rating_id: number;
  tap_id: number;
  ride_first_tap_id: number;
}

/** A tap's time by id (through tap_keys, which is indexed on tap_id), or undefined. */
export async function findTapTime(db: Db, tapId: number): Promise<Date | undefined> {
  const row = await db.selectFrom('tap_keys').select('tapped_at').where('tap_id', '=', tapId).executeTakeFirst();
  return row?.tapped_at;
}

/** Inserts the rating unless the ride is rated already; returns the new id or undefined (conflict). */
export async function insertRatingIfAbsent(db: Db, r: NewRating): Promise<number | undefined> {
  const { rows } = await sql<{ rating_id: number }>`
    INSERT INTO ratings (person_id, tap_id, ride_first_tap_id, ride_tapped_at, score, comment, rated_at, received_at, late_forward, client_id)
    VALUES (${r.person_id}, ${r.tap_id}, ${r.ride_first_tap_id}, ${r.ride_tapped_at}, ${r.score}, ${r.comment},
            ${r.rated_at}, ${r.received_at}, ${r.late_forward}, ${r.client_id})
    ON CONFLICT (person_id, ride_first_tap_id) DO NOTHING
    RETURNING rating_id`.execute(db);
  return rows[0]?.rating_id;
}

/** The person's ratings that name any of these taps, either as the rated tap or as a ride's first tap. */
export async function findRatingsTouchingTaps(db: Db, personId: string, tapIds: readonly number[]): Promise<RatingRef[]> {
  if (tapIds.length === 0) return [];
  const { rows } = await sql<RatingRef>`
    SELECT rating_id, tap_id, ride_first_tap_id FROM ratings
    WHERE person_id = ${personId}
      AND (tap_id = ANY(${tapIds}::bigint[]) OR ride_first_tap_id = ANY(${tapIds}::bigint[]))`.execute(db);
  return rows;
}

/** R13: flags a rating forwarded late by the app backend (idempotent per rating). */
export async function insertLateForwardAnomaly(
  db: Db,
  a: { ratingId: number; personId: string; period: string; ratedAt: Date; receivedAt: Date },
): Promise<void> {
  await db
    .insertInto('anomalies')
    .values({
      kind: 'late_rating_forward',
      person_id: a.personId,
      period: a.period,
      key: `rating:${a.ratingId}`,
      details: JSON.stringify({ ratingId: a.ratingId, ratedAt: a.ratedAt.toISOString(), receivedAt: a.receivedAt.toISOString() }),
    })
    .onConflict((oc) => oc.columns(['kind', 'key']).doNothing())
    .execute();
}
