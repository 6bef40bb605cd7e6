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
