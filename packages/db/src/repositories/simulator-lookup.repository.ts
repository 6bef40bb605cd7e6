/**
 * Lookups a traffic generator needs that the public APIs answer only slowly: the platform's tap id of
 * a tap it knows by its validator identity (device_id, seq). The rider app names a ride by a tap id;
 * the simulator knows the taps it sent by (device, seq), and at scale 1 (millions of ratings) asking
 * `GET /v1/persons/{id}/rides` per person and day costs more than the ratings themselves.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';

export interface DeviceSeq {
  deviceId: string;
  seq: number;
}

export interface TapIdRow {
  device_id: string;
  seq: number;
  tap_id: number;
}

/**
 * The tap ids of the given (device_id, seq) keys that are stored (through `tap_keys`' primary key);
 * keys not stored are absent from the answer. One statement per call: pass a few thousand keys.
 */
export async function findTapIdsByDeviceSeq(
  db: Kysely<DB> | Transaction<DB>,
  keys: readonly DeviceSeq[],
): Promise<TapIdRow[]> {
  if (keys.length === 0) return [];
  const { rows } = await sql<{ device_id: string; seq: string; tap_id: string }>`
    SELECT k.device_id, k.seq::text AS seq, k.tap_id::text AS tap_id
    FROM unnest(${keys.map((k) => k.deviceId)}::text[], ${keys.map((k) => k.seq)}::bigint[]) AS q(device_id, seq)
    JOIN tap_keys k ON k.device_id = q.device_id AND k.seq = q.seq`.execute(db);
  return rows.map((r) => ({ device_id: r.device_id, seq: Number(r.seq), tap_id: Number(r.tap_id) }));
}

export interface BulkRating {
  personId: string;
  deviceId: string;
  seq: number;
  score: number;
  /** ISO instant with offset, as the app would forward it. */
  ratedAt: string;
}

/**
 * Bulk load of a generator's ratings, for runs too large to post each one through the rider app
 * (`POST /v1/rides/{tapId}/rating` is one transaction, one outbox row and one aggregator job per
 * rating). Each rating names its tap by (device_id, seq); ratings whose tap is not stored are
 * skipped and counted. The row is what the rider app stores except that `ride_first_tap_id` is the
 * rated tap itself (the ride is not grouped here): counting (R5) reads a rating by its tap and
 * rated_at and judges the 7-day window itself, so the counts do not depend on it. No outbox rows are
 * written: the counts must be rebuilt by `ridetally recompute` afterwards.
 */
export async function insertRatingsBulk(
  db: Kysely<DB> | Transaction<DB>,
  ratings: readonly BulkRating[],
  clientId: string,
): Promise<{ inserted: number; missingTap: number }> {
  if (ratings.length === 0) return { inserted: 0, missingTap: 0 };
  const { rows } = await sql<{ inserted: string; matched: string }>`
    WITH q AS (
      SELECT * FROM unnest(
        ${ratings.map((r) => r.personId)}::uuid[], ${ratings.map((r) => r.deviceId)}::text[],
        ${ratings.map((r) => r.seq)}::bigint[], ${ratings.map((r) => r.score)}::smallint[],
        ${ratings.map((r) => r.ratedAt)}::timestamptz[]
      ) AS q(person_id, device_id, seq, score, rated_at)
    ), matched AS (
      SELECT q.person_id, k.tap_id, k.tapped_at, q.score, q.rated_at
      FROM q JOIN tap_keys k ON k.device_id = q.device_id AND k.seq = q.seq
    ), ins AS (
      INSERT INTO ratings (person_id, tap_id, ride_first_tap_id, ride_tapped_at, score, rated_at, received_at, late_forward, client_id)
      SELECT person_id, tap_id, tap_id, tapped_at, score, rated_at, now(), now() - rated_at > interval '24 hours', ${clientId}
      FROM matched
      ON CONFLICT (person_id, ride_first_tap_id) DO NOTHING
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM ins)::text AS inserted, (SELECT count(*) FROM matched)::text AS matched`.execute(
    db,
  );
  return { inserted: Number(rows[0]!.inserted), missingTap: ratings.length - Number(rows[0]!.matched) };
}
