/**
 * Device secrets for signature checks, decrypted once and cached briefly. The CLI revokes and
 * rotates from another process, so the cache is bounded by time: a revocation or rotation takes
 * effect within `ttlMs` (default 5 s). Unknown devices are cached too, so a flood of requests
 * naming unknown ids costs one lookup per id per TTL. Concurrent misses share one lookup.
 */
import { findDeviceCredentials, type Database } from '@ridetally/db';
import type { Keyring } from '@ridetally/keyring';

export interface DeviceCredentials {
  deviceId: string;
  vehicleId: string | null;
  status: 'active' | 'revoked';
  /** Current secret, then the previous one (with its expiry) during a rotation grace period. */
  secrets: { key: Buffer; validUntilMs: number | null }[];
}

export interface DeviceCredentialStore {
  /** The device's credentials, or null when unknown. Throws when the database is unavailable. */
  get(deviceId: string, nowMs: number): Promise<DeviceCredentials | null>;
  /** Forget one device (or all) now. */
  invalidate(deviceId?: string): void;
}

interface Entry {
  value: DeviceCredentials | null;
  expiresMs: number;
}

export function createDeviceCredentialStore({
  db,
  keyring,
  ttlMs = 5000,
  maxEntries = 50_000,
}: {
  db: Database;
  keyring: Keyring;
  ttlMs?: number;
  maxEntries?: number;
}): DeviceCredentialStore {
  const cache = new Map<string, Entry>();
  const loading = new Map<string, Promise<DeviceCredentials | null>>();

  async function load(deviceId: string): Promise<DeviceCredentials | null> {
    const row = await findDeviceCredentials(db, deviceId);
    if (!row) return null;
    const secrets: DeviceCredentials['secrets'] = [{ key: keyring.decrypt('device-secret', row.secret_ciphertext), validUntilMs: null }];
    if (row.previous_secret_ciphertext && row.previous_valid_until) {
      secrets.push({ key: keyring.decrypt('device-secret', row.previous_secret_ciphertext), validUntilMs: row.previous_valid_until.getTime() });
    }
    return { deviceId: row.device_id, vehicleId: row.vehicle_id, status: row.status, secrets };
  }

  return {
    async get(deviceId, nowMs) {
      const hit = cache.get(deviceId);
      if (hit && hit.expiresMs > nowMs) return hit.value;
      let pending = loading.get(deviceId);
      if (!pending) {
        pending = load(deviceId).finally(() => loading.delete(deviceId));
        loading.set(deviceId, pending);
      }
      const value = await pending;
      if (cache.size >= maxEntries) cache.clear();
      cache.set(deviceId, { value, expiresMs: nowMs + ttlMs });
      return value;
    },
    invalidate(deviceId) {
      if (deviceId === undefined) cache.clear();
      else cache.delete(deviceId);
    },
  };
}

/** The secrets usable at `nowMs` (the previous one only until its expiry). */
export function usableSecrets(creds: DeviceCredentials, nowMs: number): Buffer[] {
  return creds.secrets.filter((s) => s.validUntilMs === null || s.validUntilMs > nowMs).map((s) => s.key);
}
