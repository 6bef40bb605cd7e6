/**
 * The ingest service's settings: the shared ones from @ridetally/config plus a few of its own,
 * validated the same way (a bad value stops start-up naming the variable).
 */
import { ConfigError, type Env } from '@ridetally/config';
import { z } from 'zod';

export const IngestEnvSchema = z.object({
  /** Worker processes (node:cluster) sharing the port; PostgreSQL only. Default 1. */
  INGEST_WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  /** Group commits in flight at once (PostgreSQL); PGlite always 1. */
  INGEST_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(64).optional(),
  /** `accept` (default): store a tap for another vehicle than the device's and count it; `reject`: vehicle_mismatch. */
  INGEST_VEHICLE_MISMATCH: z.enum(['accept', 'reject']).default('accept'),
  /** A request whose commit takes longer than this answers 503 (the device retries; a late commit makes the retry a duplicate). */
  INGEST_COMMIT_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** How long decrypted device secrets (and unknown ids) are cached: revoke/rotate take effect within it. */
  INGEST_DEVICE_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(5000),
  /** How often devices.last_seen_at is written (one UPDATE for all devices seen). */
  INGEST_LAST_SEEN_INTERVAL_MS: z.coerce.number().int().min(100).default(10_000),
});

export interface IngestConfig {
  signatureWindowS: number;
  groupMaxTaps: number;
  groupMaxWaitMs: number;
  maxInFlight: number;
  deviceRatePerS: number;
  rejectVehicleMismatch: boolean;
  commitTimeoutMs: number;
  deviceCacheTtlMs: number;
  lastSeenIntervalMs: number;
}

export function loadIngestConfig(env: Env, source: NodeJS.ProcessEnv = process.env): IngestConfig & { workers: number } {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = IngestEnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(`invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const e = parsed.data;
  const embedded = !env.DATABASE_URL;
  return {
    workers: embedded ? 1 : e.INGEST_WORKERS,
    signatureWindowS: env.TAP_SIGNATURE_WINDOW_S,
    groupMaxTaps: env.INGEST_GROUP_MAX_TAPS,
    groupMaxWaitMs: env.INGEST_GROUP_MAX_WAIT_MS,
    maxInFlight: embedded ? 1 : (e.INGEST_MAX_IN_FLIGHT ?? Math.max(1, Math.min(4, env.DATABASE_POOL_SIZE - 2))),
    deviceRatePerS: env.INGEST_DEVICE_RATE_PER_S,
    rejectVehicleMismatch: e.INGEST_VEHICLE_MISMATCH === 'reject',
    commitTimeoutMs: e.INGEST_COMMIT_TIMEOUT_MS,
    deviceCacheTtlMs: e.INGEST_DEVICE_CACHE_TTL_MS,
    lastSeenIntervalMs: e.INGEST_LAST_SEEN_INTERVAL_MS,
  };
}

/** Defaults for tests and the all-in-one platform. */
export const DEFAULT_INGEST_CONFIG: IngestConfig = {
  signatureWindowS: 300,
  groupMaxTaps: 2000,
  groupMaxWaitMs: 2,
  maxInFlight: 4,
  deviceRatePerS: 50,
  rejectVehicleMismatch: false,
  commitTimeoutMs: 10_000,
  deviceCacheTtlMs: 5000,
  lastSeenIntervalMs: 10_000,
};
