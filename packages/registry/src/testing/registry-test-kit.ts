/**
 * Test helpers: a keyring, a controllable clock and a tap factory that writes taps directly (as the
 * ingest service would: tap_keys + taps), so registry tests need no validator.
 */
import { randomBytes } from 'node:crypto';
import { sql, type Database } from '@ridetally/db';
import { nationalIdCheckChar } from '@ridetally/domain';
import { createKeyring, type Keyring } from '@ridetally/keyring';

export function testKeyring(): Keyring {
  return createKeyring({ current: randomBytes(32) });
}

export interface TestClock {
  now: () => Date;
  set(at: Date | string): void;
  advance(ms: number): void;
}

export function testClock(start: Date | string): TestClock {
  let t = new Date(start);
  return {
    now: () => new Date(t),
    set: (at) => {
      t = new Date(at);
    },
    advance: (ms) => {
      t = new Date(t.getTime() + ms);
    },
  };
}

let seq = 0;

export interface TapInput {
  tappedAt: Date | string;
  mediaType?: 'transit_card' | 'ecard' | 'qr' | 'id_card';
  /** card id, or for id_card the keyed hash */
  mediaKey: string;
  vehicleId?: string;
  routeId?: string;
  deviceId?: string;
}

/** Inserts a tap as the ingest service stores it; returns its tap_id. */
export async function insertTap(db: Database, t: TapInput): Promise<number> {
  const tappedAt = new Date(t.tappedAt);
  const deviceId = t.deviceId ?? 'D-TEST';
  const s = ++seq + Math.floor(Math.random() * 1e9) * 1000;
  const { rows } = await sql<{ tap_id: number }>`SELECT nextval('tap_id_seq')::bigint AS tap_id`.execute(db);
  const tapId = rows[0]!.tap_id;
  await sql`INSERT INTO tap_keys (device_id, seq, tap_id, tapped_at, content_hash)
            VALUES (${deviceId}, ${s}, ${tapId}, ${tappedAt}, ${Buffer.from('00', 'hex')})`.execute(db);
  await sql`INSERT INTO taps (tap_id, device_id, seq, tapped_at, received_at, batch_id, vehicle_id, route_id, media_type, media_key)
            VALUES (${tapId}, ${deviceId}, ${s}, ${tappedAt}, ${tappedAt}, 0, ${t.vehicleId ?? 'V1'}, ${t.routeId ?? 'R1'},
                    ${t.mediaType ?? 'transit_card'}, ${t.mediaKey})`.execute(db);
  return tapId;
}

/** Outbox entries written so far, in order. */
export async function outboxEntries(db: Database): Promise<{ topic: string; payload: unknown }[]> {
  const { rows } = await sql<{ topic: string; payload: unknown }>`SELECT topic, payload FROM outbox ORDER BY id`.execute(db);
  return rows;
}

/** A valid ID number (GB 11643 check character computed) from a birth date and a sequence. */
export function makeIdNumber(region: string, birth: string, sequence: number): string {
  const first17 = `${region}${birth}${String(sequence).padStart(3, '0')}`;
  return first17 + nationalIdCheckChar(first17);
}
