/**
 * R1: the taps that belong to a person are the taps of media bound to them at the tap's time.
 * Used by the rider app (a person's rides) and by the aggregator (counting).
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';

export interface PersonTapRow {
  tap_id: number;
  tapped_at: Date;
  device_id: string;
  vehicle_id: string;
  route_id: string;
  media_type: string;
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
    FROM media_bindings b
    JOIN taps t
      ON t.media_type = b.media_type
     AND t.media_key = b.media_key
     AND t.tapped_at >= greatest(lower(b.valid), ${from}::timestamptz)
     AND t.tapped_at < least(coalesce(upper(b.valid), 'infinity'::timestamptz), ${to}::timestamptz)
    WHERE b.person_id = ${personId}
      AND b.valid && tstzrange(${from}::timestamptz, ${to}::timestamptz)
      -- constant bounds too, so the planner prunes the monthly partitions at plan time
      AND t.tapped_at >= ${from}::timestamptz
      AND t.tapped_at < ${to}::timestamptz
    ORDER BY t.tapped_at, t.tap_id`.execute(db);
  return rows;
}
