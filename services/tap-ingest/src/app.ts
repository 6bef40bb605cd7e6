/**
 * The tap-ingest HTTP surface. `createIngestRouter` is what the all-in-one platform mounts next to
 * the other services (it must be mounted before any global body parser: the signature needs the raw
 * body); `createIngestApp` wraps it as the standalone service with health, readiness and metrics.
 */
import { Router, type Express } from 'express';
import { pingDatabase, type Database, type DatabaseHandle } from '@ridetally/db';
import { createMemoryRateLimiter, createServiceApp, unlimitedRateLimiter, type RateLimiter } from '@ridetally/http';
import type { Keyring } from '@ridetally/keyring';
import type { Logger, Registry } from '@ridetally/telemetry';
import { createDeviceCredentialStore, type DeviceCredentialStore } from './device-credentials';
import { isDatabaseUnavailable } from './db-errors';
import { createGroupCommitter, type GroupCommitter } from './group-commit';
import { DEFAULT_INGEST_CONFIG, type IngestConfig } from './ingest-config';
import { createLastSeenTracker } from './last-seen';
import { createIngestMetrics, type IngestMetrics } from './metrics';
import { registerTapsRoutes } from './routes/taps.routes';

export interface IngestDeps {
  db: Database;
  /** PostgreSQL: the pool behind `db`; the group commit then runs its statement prepared. */
  pool?: DatabaseHandle['pool'];
  keyring: Keyring;
  logger: Logger;
  registry: Registry;
  config?: Partial<IngestConfig>;
  /** Milliseconds since the epoch; injected by tests. */
  now?: () => number;
  /** Replaces the in-memory per-device token bucket (e.g. a Redis-backed one). */
  rateLimiter?: RateLimiter;
}

export interface IngestModule {
  router: Router;
  metrics: IngestMetrics;
  credentials: DeviceCredentialStore;
  committer: GroupCommitter;
  /** Flushes pending groups and last-seen times; call after the HTTP server stopped accepting. */
  close(): Promise<void>;
}

export function createIngestRouter(deps: IngestDeps): IngestModule {
  const config: IngestConfig = { ...DEFAULT_INGEST_CONFIG, ...deps.config };
  const now = deps.now ?? Date.now;
  const metrics = createIngestMetrics(deps.registry);
  const credentials = createDeviceCredentialStore({ db: deps.db, keyring: deps.keyring, ttlMs: config.deviceCacheTtlMs, now });
  const committer = createGroupCommitter({
    db: deps.db,
    pool: deps.pool,
    maxTaps: config.groupMaxTaps,
    maxWaitMs: config.groupMaxWaitMs,
    maxInFlight: config.maxInFlight,
    isUnavailable: isDatabaseUnavailable,
    onGroup: (s) => {
      metrics.groupSize.observe(s.taps);
      metrics.groupDuration.observe(s.durationMs / 1000);
    },
  });
  const lastSeen = createLastSeenTracker({ db: deps.db, intervalMs: config.lastSeenIntervalMs, log: deps.logger });
  const rateLimiter =
    deps.rateLimiter ?? (config.deviceRatePerS > 0 ? createMemoryRateLimiter({ ratePerS: config.deviceRatePerS, burst: 2 * config.deviceRatePerS }) : unlimitedRateLimiter);
  const router = Router();
  registerTapsRoutes(router, {
    keyring: deps.keyring,
    credentials,
    committer,
    rateLimiter,
    lastSeen,
    metrics,
    signatureWindowS: config.signatureWindowS,
    rejectVehicleMismatch: config.rejectVehicleMismatch,
    commitTimeoutMs: config.commitTimeoutMs,
    now,
  });
  return {
    router,
    metrics,
    credentials,
    committer,
    async close() {
      credentials.close();
      await committer.close();
      await lastSeen.close();
    },
  };
}

export interface IngestApp extends IngestModule {
  app: Express;
}

/** The standalone service: request ids, security headers, /healthz, /readyz, /metrics, errors. */
export function createIngestApp(deps: IngestDeps): IngestApp {
  const module = createIngestRouter(deps);
  const app = createServiceApp({ logger: deps.logger, isReady: () => pingDatabase(deps.db), metrics: deps.registry }, (a) => {
    a.use(module.router);
  });
  return { ...module, app };
}
