/**
 * R1: the taps that belong to a person are the taps of media bound to them at the tap's time.
 * Used by the rider app (a person's rides) and by the aggregator (counting).
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { DB } from '../types';

export interface PersonTapRow {
  tap_id: number;
  tapped_at: Date;
  device_id: string;
  vehicle_id: string;
  route_id: string;
  media_type: string;
}

/**
 * `media_bindings b JOIN taps t … WHERE …`: the person's taps (R1) with from <= tapped_at < to. The
 * bounds are repeated as constants so that the planner prunes the monthly partitions at plan time.
 */
function tapsOfPerson(person: RawBuilder<unknown>, from: Date, to: Date) {
  return sql`media_bindings b
    JOIN taps t
      ON t.media_type = b.media_type
     AND t.media_key = b.media_key
     AND t.tapped_at >= greatest(lower(b.valid), ${from}::timestamptz)
     AND t.tapped_at < least(coalesce(upper(b.valid), 'infinity'::timestamptz), ${to}::timestamptz)
    WHERE b.person_id = ${person}
      AND b.valid && tstzrange(${from}::timestamptz, ${to}::timestamptz)
      AND t.tapped_at >= ${from}::timestamptz
      AND t.tapped_at < ${to}::timestamptz`;
}

/** The person's taps with from <= tapped_at < to, in (tapped_at, tap_id) order. */
export async function findPersonTaps(
  db: Kysely<DB> | Transaction<DB>,
  personId: string,
  from: Date,
  to: Date,
): Promise<PersonTapRow[]> {
  const { rows } = await sql<PersonTapRow>`
    SELECT t.tap_id, t.tapped_at, t.device_id, t.vehicle_id, t.route_id, t.media_type
    FROM ${tapsOfPerson(sql`${personId}`, from, to)}
    ORDER BY t.tapped_at, t.tap_id`.execute(db);
  return rows;
}

export interface RatedPersonTapRow extends PersonTapRow {
  /** A rating of the person names this tap, as the rated tap or as its ride's first tap. */
  rated: boolean;
}

/**
 * The rider app's rides listing in one round trip: whether the person exists, and their taps with
 * from <= tapped_at < to (as `findPersonTaps`), each with whether one of their ratings names it.
 * `from` and `to` are parameters, so the monthly partitions of taps are pruned at plan time.
 */
export async function findPersonTapsRated(
  db: Kysely<DB> | Transaction<DB>,
  personId: string,
  from: Date,
  to: Date,
): Promise<{ personFound: boolean; taps: RatedPersonTapRow[] }> {
  const { rows } = await sql<
    { person_found: boolean } & { [K in keyof RatedPersonTapRow]: RatedPersonTapRow[K] | null }
  >`
    SELECT p.person_id IS NOT NULL AS person_found, x.*
    FROM (SELECT 1) AS one
    LEFT JOIN persons p ON p.person_id = ${personId}
    LEFT JOIN LATERAL (
      SELECT t.tap_id, t.tapped_at, t.device_id, t.vehicle_id, t.route_id, t.media_type,
             EXISTS (SELECT 1 FROM ratings r
                     WHERE r.person_id = b.person_id AND (r.tap_id = t.tap_id OR r.ride_first_tap_id = t.tap_id)) AS rated
      FROM ${tapsOfPerson(sql.ref('p.person_id'), from, to)}
    ) AS x ON true
    ORDER BY x.tapped_at, x.tap_id`.execute(db);
  const personFound = rows[0]?.person_found ?? false;
  const taps: RatedPersonTapRow[] = [];
  for (const r of rows) {
    if (r.tap_id === null) continue;
    taps.push({
      tap_id: r.tap_id,
      tapped_at: r.tapped_at!,
      device_id: r.device_id!,
      vehicle_id: r.vehicle_id!,
      route_id: r.route_id!,
      media_type: r.media_type!,
      rated: r.rated!,
    });
  }
  return { personFound, taps };
}
