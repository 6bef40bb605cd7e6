/**
 * Environment configuration, validated once at start-up into a typed object.
 * A bad variable stops start-up with a message naming it; nothing falls back silently.
 */
import { z } from 'zod';

const boolish = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('0.0.0.0'),
  /** PostgreSQL connection string. Unset: embedded PGlite in DATA_DIR. */
  DATABASE_URL: z.string().url().optional(),
  /** Redis connection string. Unset: jobs run in-process. */
  REDIS_URL: z.string().url().optional(),
  /** Embedded mode's data folder (PGlite files, generated master key). */
  DATA_DIR: z.string().default('.data'),
  /** 32 random bytes, base64. Required with DATABASE_URL; generated into DATA_DIR in embedded mode. */
  RIDETALLY_MASTER_KEY: z.string().optional(),
  /** The previous master key while a rotation is under way (decrypt only). */
  RIDETALLY_MASTER_KEY_PREVIOUS: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Size of the pg pool per process. */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  /** Allowed clock skew for validator signatures, seconds. */
  TAP_SIGNATURE_WINDOW_S: z.coerce.number().int().min(1).default(300),
  /** Group commit: flush when this many taps are waiting ... */
  INGEST_GROUP_MAX_TAPS: z.coerce.number().int().min(1).default(2000),
  /** ... or after this many milliseconds since the first waiting tap. */
  INGEST_GROUP_MAX_WAIT_MS: z.coerce.number().min(0).default(2),
  /** Per-device request rate limit (requests per second, burst = 2x). 0 disables. */
  INGEST_DEVICE_RATE_PER_S: z.coerce.number().min(0).default(50),
  /**
   * Rider app: requests per second per API client (its token), token bucket shared by every replica
   * through Redis when REDIS_URL is set, per process otherwise. 0 disables.
   */
  RIDER_CLIENT_RATE_PER_S: z.coerce.number().min(0).default(100),
  /** Rider app: the bucket's capacity per client (requests in a burst). Default: 2 × the rate. */
  RIDER_CLIENT_BURST: z.coerce.number().min(1).optional(),
  /** Trust X-Forwarded-For from a proxy in front of the service. */
  TRUST_PROXY: boolish.default(false),
  /** Seed the demo city into a new embedded data folder. */
  SEED_DEMO: boolish.default(true),
});

export type Env = z.infer<typeof EnvSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; throws ConfigError naming every bad variable. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid environment: ${problems}`);
  }
  return parsed.data;
}
