/**
 * Validators (devices): registration, secret rotation, revocation and the credentials the ingest
 * service checks signatures with. Secrets are stored encrypted (keyring purpose `device-secret`);
 * this module never sees them in clear.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

export interface DeviceCredentialsRow {
  device_id: string;
  vehicle_id: string | null;
  status: 'active' | 'revoked';
  secret_ciphertext: Buffer;
  previous_secret_ciphertext: Buffer | null;
  previous_valid_until: Date | null;
}

export interface DeviceListRow {
  device_id: string;
  vehicle_id: string | null;
  status: 'active' | 'revoked';
  created_at: Date;
  rotated_at: Date | null;
  previous_valid_until: Date | null;
  revoked_at: Date | null;
  last_seen_at: Date | null;
}

export interface NewDevice {
  deviceId: string;
  vehicleId: string | null;
  secretCiphertext: Buffer;
  vendor?: string | null;
  model?: string | null;
}

/** Registers a device; false when the id is already taken. */
export async function insertDevice(db: Db, device: NewDevice): Promise<boolean> {
  const rows = await db
    .insertInto('devices')
    .values({
      device_id: device.deviceId,
      vehicle_id: device.vehicleId,
      secret_ciphertext: device.secretCiphertext,
      vendor: device.vendor ?? null,
      model: device.model ?? null,
    })
    .onConflict((oc) => oc.column('device_id').doNothing())
    .returning('device_id')
    .execute();
  return rows.length === 1;
}

/** What the ingest service needs to authenticate a device, or undefined when unknown. */
export async function findDeviceCredentials(db: Db, deviceId: string): Promise<DeviceCredentialsRow | undefined> {
  const row = await db
    .selectFrom('devices')
    .select(['device_id', 'vehicle_id', 'status', 'secret_ciphertext', 'previous_secret_ciphertext', 'previous_valid_until'])
    .where('device_id', '=', deviceId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    ...row,
    secret_ciphertext: Buffer.from(row.secret_ciphertext),
    previous_secret_ciphertext: row.previous_secret_ciphertext ? Buffer.from(row.previous_secret_ciphertext) : null,
  };
}

/** Credentials of many devices at once (the ingest cache's periodic refresh). */
export async function findDevicesCredentials(db: Db, deviceIds: string[]): Promise<DeviceCredentialsRow[]> {
  if (deviceIds.length === 0) return [];
  const rows = await db
    .selectFrom('devices')
    .select(['device_id', 'vehicle_id', 'status', 'secret_ciphertext', 'previous_secret_ciphertext', 'previous_valid_until'])
    .where('device_id', '=', sql<string>`ANY(${deviceIds}::text[])`)
    .execute();
  return rows.map((row) => ({
    ...row,
    secret_ciphertext: Buffer.from(row.secret_ciphertext),
    previous_secret_ciphertext: row.previous_secret_ciphertext ? Buffer.from(row.previous_secret_ciphertext) : null,
  }));
}

/** Credentials of active devices (up to `limit`), to warm the ingest cache at start-up. */
export async function findActiveDevicesCredentials(db: Db, limit: number): Promise<DeviceCredentialsRow[]> {
  const rows = await db
    .selectFrom('devices')
    .select(['device_id', 'vehicle_id', 'status', 'secret_ciphertext', 'previous_secret_ciphertext', 'previous_valid_until'])
    .where('status', '=', 'active')
    .orderBy('last_seen_at', (ob) => ob.desc().nullsLast())
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    ...row,
    secret_ciphertext: Buffer.from(row.secret_ciphertext),
    previous_secret_ciphertext: row.previous_secret_ciphertext ? Buffer.from(row.previous_secret_ciphertext) : null,
  }));
}

/** Revokes a device at `at`; false when unknown or already revoked. */
export async function revokeDevice(db: Db, deviceId: string, at: Date): Promise<boolean> {
  const rows = await db
    .updateTable('devices')
    .set({ status: 'revoked', revoked_at: at })
    .where('device_id', '=', deviceId)
    .where('status', '=', 'active')
    .returning('device_id')
    .execute();
  return rows.length === 1;
}

/**
 * Gives an active device a new secret; the current one stays valid until `previousValidUntil` so
 * validators in the field keep working until they pick up the new one. False when unknown or revoked.
 */
export async function rotateDeviceSecret(
  db: Db,
  deviceId: string,
  secretCiphertext: Buffer,
  previousValidUntil: Date,
  at: Date,
): Promise<boolean> {
  const rows = await db
    .updateTable('devices')
    .set((eb) => ({
      previous_secret_ciphertext: eb.ref('secret_ciphertext'),
      previous_valid_until: previousValidUntil,
      secret_ciphertext: secretCiphertext,
      rotated_at: at,
    }))
    .where('device_id', '=', deviceId)
    .where('status', '=', 'active')
    .returning('device_id')
    .execute();
  return rows.length === 1;
}

export async function listDevices(db: Db): Promise<DeviceListRow[]> {
  const { rows } = await sql<DeviceListRow>`
    SELECT device_id, vehicle_id, status, created_at, rotated_at, previous_valid_until, revoked_at, last_seen_at
    FROM devices ORDER BY device_id`.execute(db);
  return rows;
}

/** Moves last_seen_at forward (never back) for many devices in one statement. */
export async function touchDevicesLastSeen(db: Db, seen: { deviceId: string; at: Date }[]): Promise<void> {
  if (seen.length === 0) return;
  const ids = seen.map((s) => s.deviceId);
  const ats = seen.map((s) => s.at.toISOString());
  await sql`
    UPDATE devices d SET last_seen_at = greatest(d.last_seen_at, s.at)
    FROM unnest(${ids}::text[], ${ats}::timestamptz[]) AS s(device_id, at)
    WHERE d.device_id = s.device_id`.execute(db);
}
