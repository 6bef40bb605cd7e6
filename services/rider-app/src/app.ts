/**
 * The rider app API (SPEC §4) for the 掌上公交 backend. `createRiderRouter` is what the all-in-one
 * platform mounts at the root (it parses JSON only on its own routes, so it can sit next to the
 * validator API, which needs raw bodies); `createRiderApp` wraps it as the standalone service.
 */
import express, { Router, type Express } from 'express';
import { pingDatabase, type Database } from '@ridetally/db';
import { createServiceApp, type RateLimiter } from '@ridetally/http';
import type { Keyring } from '@ridetally/keyring';
import { defaultRulesAt, type RulesAt } from '@ridetally/registry';
import type { Logger } from '@ridetally/telemetry';
import { requireClient } from './auth';
import { buildRiderOpenApi } from './openapi';
import { limitPerClient } from './rate-limit';
import { registerPersonsRoutes } from './routes/persons.routes';
import { registerRatingsRoutes } from './routes/ratings.routes';

export interface RiderDeps {
  db: Database;
  keyring: Keyring;
  logger: Logger;
  /** The clock; tests control time. Default: the system clock. */
  now?: () => Date;
  /** Rules in force at an instant; default: the programme year's default rules. */
  rulesAt?: RulesAt;
  /**
   * Per-client limit, taken after authentication (429 + Retry-After when spent); built from the
   * environment by `createClientRateLimit`. Omitted: no limit.
   */
  rateLimiter?: RateLimiter;
}

export function createRiderRouter(deps: RiderDeps): Router {
  const registryDeps = { db: deps.db, keyring: deps.keyring, now: deps.now ?? (() => new Date()), rulesAt: deps.rulesAt ?? defaultRulesAt };
  const router = Router();
  // Authentication (401) first, then the client's rate limit (429), then the body is read.
  const auth = deps.rateLimiter ? [requireClient(registryDeps), limitPerClient(deps.rateLimiter, registryDeps.now)] : [requireClient(registryDeps)];
  const json = express.json({ limit: '64kb' });
  const openapi = buildRiderOpenApi();
  router.get('/v1/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  registerPersonsRoutes(router, registryDeps, auth, json);
  registerRatingsRoutes(router, registryDeps, auth, json);
  return router;
}

/** The standalone service: request ids, security headers, /healthz, /readyz, the API, errors. */
export function createRiderApp(deps: RiderDeps): Express {
  return createServiceApp({ logger: deps.logger, isReady: () => pingDatabase(deps.db) }, (app) => {
    app.use(createRiderRouter(deps));
  });
}
