/**
 * The all-in-one platform: the validator API, the rider app API, the staff API and console, and the
 * aggregator's processors, in one process on one port. This is a composition root like each
 * service's main.ts, not a different code path through the rules.
 */
import express, { type Express } from 'express';
import { pingDatabase, type Database } from '@ridetally/db';
import { errorHandler, notFound, requestContext, securityHeaders } from '@ridetally/http';
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
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestContext(deps.logger));
  app.use(securityHeaders());
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ok = await pingDatabase(deps.db);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'database unavailable' });
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', deps.registry.contentType);
    res.send(await deps.registry.metrics());
  });

  // The validator API first: it reads raw bodies for the signature, so no JSON parser runs before it.
  const ingest = createIngestRouter({
    db: deps.db,
    keyring: deps.keyring,
    logger: deps.logger,
    registry: deps.registry,
    config: deps.ingestConfig,
    now: () => now().getTime(),
  });
  app.use(ingest.router);
  app.use(createRiderRouter({ db: deps.db, keyring: deps.keyring, logger: deps.logger, now }));
  app.use(createRewardRouter({ db: deps.db, keyring: deps.keyring, logger: deps.logger, clock: now, cjkFontPath: deps.cjkFontPath }));
  app.use(createConsoleRouter());

  app.use(notFound());
  app.use(errorHandler());

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
