/**
 * Device secrets for signature checks, decrypted once and cached. The CLI revokes and rotates from
 * another process, so cached entries are re-read in bulk: every `ttlMs / 2` one query reloads every
 * cached device (a secret is decrypted again only when its ciphertext changed), and an entry not
 * refreshed for `ttlMs` is never trusted (the request loads it itself). A revocation or rotation
 * thus takes effect within `ttlMs` (default 5 s) while requests almost never wait for the database.
 * Unknown devices are cached for `ttlMs` too; concurrent misses for one device share one lookup.
 */
import { findActiveDevicesCredentials, findDeviceCredentials, findDevicesCredentials, type Database, type DeviceCredentialsRow } from '@ridetally/db';
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
  /**
   * Loads the active devices (most recently seen first, up to the cache size) in one query, so a
   * restart does not send one lookup per device to the database. Failure is harmless (lazy loads).
   */
  preload(): Promise<number>;
  /** Re-reads every cached device now (what the timer does). */
  refresh(): Promise<void>;
  /** Forget one device (or all) now. */
  invalidate(deviceId?: string): void;
  close(): void;
}

interface Entry {
  value: DeviceCredentials | null;
  row: DeviceCredentialsRow | null;
  loadedMs: number;
}

export function createDeviceCredentialStore({
  db,
  keyring,
  ttlMs = 5000,
  maxEntries = 50_000,
  now = Date.now,
}: {
  db: Database;
  keyring: Keyring;
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}): DeviceCredentialStore {
  const cache = new Map<string, Entry>();
  const loading = new Map<string, Promise<DeviceCredentials | null>>();

  function toCredentials(row: DeviceCredentialsRow, previous: Entry | undefined): DeviceCredentials {
    const old = previous?.row && previous.value ? { row: previous.row, value: previous.value } : undefined;
    // Decrypting is the costly part: reuse the cached key when the ciphertext did not change.
    const reuse = (blob: Buffer, oldBlob: Buffer | null | undefined, oldKey: Buffer | undefined) =>
      oldBlob && oldKey && oldBlob.equals(blob) ? oldKey : keyring.decrypt('device-secret', blob);
    const secrets: DeviceCredentials['secrets'] = [{ key: reuse(row.secret_ciphertext, old?.row.secret_ciphertext, old?.value.secrets[0]?.key), validUntilMs: null }];
    if (row.previous_secret_ciphertext && row.previous_valid_until) {
      const oldPrev = old?.row.previous_secret_ciphertext ? old.value.secrets[1]?.key : undefined;
      secrets.push({ key: reuse(row.previous_secret_ciphertext, old?.row.previous_secret_ciphertext, oldPrev), validUntilMs: row.previous_valid_until.getTime() });
    }
    return { deviceId: row.device_id, vehicleId: row.vehicle_id, status: row.status, secrets };
  }

  function store(deviceId: string, row: DeviceCredentialsRow | null, loadedMs: number): DeviceCredentials | null {
    const value = row ? toCredentials(row, cache.get(deviceId)) : null;
    if (!cache.has(deviceId) && cache.size >= maxEntries) cache.clear();
    cache.set(deviceId, { value, row, loadedMs });
    return value;
  }

  async function load(deviceId: string): Promise<DeviceCredentials | null> {
    const started = now();
    const row = await findDeviceCredentials(db, deviceId);
    return store(deviceId, row ?? null, started);
  }

  let refreshing: Promise<void> | undefined;
  async function refreshAll(): Promise<void> {
    const ids = [...cache.keys()];
    if (ids.length === 0) return;
    const started = now();
    const rows = await findDevicesCredentials(db, ids);
    const byId = new Map(rows.map((r) => [r.device_id, r]));
    for (const id of ids) store(id, byId.get(id) ?? null, started);
  }
  const refresh = () => {
    refreshing ??= refreshAll()
      .catch(() => undefined) // the database is away: entries age out and requests answer 503
      .finally(() => (refreshing = undefined));
    return refreshing;
  };
  const timer = ttlMs > 0 ? setInterval(() => void refresh(), Math.max(50, ttlMs / 2)) : undefined;
  timer?.unref();

  return {
    async get(deviceId, nowMs) {
      const hit = cache.get(deviceId);
      if (hit && nowMs - hit.loadedMs < ttlMs) return hit.value;
      let pending = loading.get(deviceId);
      if (!pending) {
        pending = load(deviceId).finally(() => loading.delete(deviceId));
        loading.set(deviceId, pending);
      }
      return pending;
    },
    async preload() {
      const started = now();
      try {
        const rows = await findActiveDevicesCredentials(db, maxEntries);
        for (const row of rows) store(row.device_id, row, started);
        return rows.length;
      } catch {
        return 0;
      }
    },
    refresh,
    invalidate(deviceId) {
      if (deviceId === undefined) cache.clear();
      else cache.delete(deviceId);
    },
    close() {
      if (timer) clearInterval(timer);
    },
  };
}

/** The secrets usable at `nowMs` (the previous one only until its expiry). */
export function usableSecrets(creds: DeviceCredentials, nowMs: number): Buffer[] {
  return creds.secrets.filter((s) => s.validUntilMs === null || s.validUntilMs > nowMs).map((s) => s.key);
}
