/**
 * The all-in-one platform: the validator API, the rider app API, the staff API and console, and the
 * aggregator's processors, in one process on one port. This is a composition root like each
 * service's main.ts, not a different code path through the rules.
 */
import type { Express } from 'express';
import { pingDatabase, type Database } from '@ridetally/db';
import { createServiceApp } from '@ridetally/http';
import type { RateLimiter } from '@ridetally/http';
import type { Keyring } from '@ridetally/keyring';
import { startAggregator, type Aggregator } from '@ridetally/aggregator';
import { createConsoleRouter } from '@ridetally/console';
import { createRewardRouter } from '@ridetally/reward';
import { createRiderRouter } from '@ridetally/rider-app';
import { createIngestRouter, type IngestConfig } from '@ridetally/tap-ingest';
import type { Logger, Registry } from '@ridetally/telemetry';

export interface PlatformDeps {
  db: Database;
  keyring: Keyring;
  logger: Logger;
  registry: Registry;
  ingestConfig?: Partial<IngestConfig>;
  now?: () => Date;
  /** BullMQ on Redis (scaled) or the in-process runner (embedded default). */
  jobs?: 'in-process' | { redisUrl: string; prefix: string };
  /** The rider app API's per-client limit (`createClientRateLimit` of @ridetally/rider-app); omitted: none. */
  riderRateLimiter?: RateLimiter;
  /** Path of a CJK TrueType font for PDF notices (default: searched). */
  cjkFontPath?: string;
}

export interface Platform {
  app: Express;
  aggregator: Aggregator;
  /** Flushes and stops everything the platform started (not the database). */
  close(): Promise<void>;
}

export async function createPlatform(deps: PlatformDeps): Promise<Platform> {
  const now = deps.now ?? (() => new Date());
  // The validator API first: it reads raw bodies for the signature, so no JSON parser runs before it.
  const ingest = createIngestRouter({
    db: deps.db,
    keyring: deps.keyring,
    logger: deps.logger,
    registry: deps.registry,
    config: deps.ingestConfig,
    now: () => now().getTime(),
  });
  const app = createServiceApp({ logger: deps.logger, isReady: () => pingDatabase(deps.db), metrics: deps.registry }, (a) => {
    a.use(ingest.router);
    a.use(createRiderRouter({ db: deps.db, keyring: deps.keyring, logger: deps.logger, now, rateLimiter: deps.riderRateLimiter }));
    a.use(createRewardRouter({ db: deps.db, keyring: deps.keyring, logger: deps.logger, clock: now, cjkFontPath: deps.cjkFontPath }));
    a.use(createConsoleRouter());
  });

  const aggregator: Aggregator = await startAggregator({
    db: deps.db,
    mode: deps.jobs ?? 'in-process',
    logger: deps.logger,
    registry: deps.registry,
  });

  return {
    app,
    aggregator,
    async close() {
      await ingest.close();
      await aggregator.close();
    },
  };
}
