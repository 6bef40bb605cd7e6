/**
 * Composition root of the standalone tap-ingest service:
 *   PORT=8081 DATABASE_URL=postgres://… RIDETALLY_MASTER_KEY=… pnpm --filter @ridetally/tap-ingest start
 * Without DATABASE_URL it serves the embedded PGlite database in DATA_DIR (one process). With
 * INGEST_WORKERS > 1 (PostgreSQL only) node:cluster runs that many workers on the same port.
 * Migrations are not run here: `pnpm ridetally migrate`. SIGTERM/SIGINT: stop accepting, finish
 * in-flight requests and group commits, close the database, exit.
 */
import cluster from 'node:cluster';
import type { Server } from 'node:http';
import { loadEnv } from '@ridetally/config';
import { openDatabaseFromEnv, resolveKeyring } from '@ridetally/runtime';
import { createLogger, createMetricsRegistry } from '@ridetally/telemetry';
import { createIngestApp } from './app';
import { createRedisRateLimiter } from '@ridetally/http';
import { loadIngestConfig } from './ingest-config';

const env = loadEnv();
const config = loadIngestConfig(env);

if (config.workers > 1 && cluster.isPrimary) {
  const logger = createLogger({ level: env.LOG_LEVEL, service: 'tap-ingest' });
  for (let i = 0; i < config.workers; i++) cluster.fork();
  let stopping = false;
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'worker exited; starting another');
    cluster.fork();
  });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  await startWorker();
}

async function startWorker(): Promise<void> {
  const logger = createLogger({ level: env.LOG_LEVEL, service: 'tap-ingest' });
  const keyring = resolveKeyring(env);
  const handle = await openDatabaseFromEnv(env, 'ridetally-tap-ingest');
  const registry = createMetricsRegistry('tap-ingest');
  // With REDIS_URL the per-device rate limit is one budget shared by every replica; without it each
  // process keeps its own bucket.
  const rateLimiter =
    env.REDIS_URL && config.deviceRatePerS > 0
      ? createRedisRateLimiter({
          redis: env.REDIS_URL,
          prefix: 'rt:rate:device:',
          ratePerS: config.deviceRatePerS,
          burst: 2 * config.deviceRatePerS,
          onError: (err) => logger.warn({ err: err.message }, 'rate limiter: Redis unavailable, using the local bucket'),
        })
      : undefined;
  await rateLimiter?.ready(5000).catch(() => logger.warn('rate limiter: Redis not reachable at start, using the local bucket until it is'));
  const ingest = createIngestApp({ db: handle.db, pool: handle.pool, keyring, logger, registry, config, rateLimiter });
  if (env.TRUST_PROXY) ingest.app.set('trust proxy', true);
  const preloaded = await ingest.credentials.preload();

  const server: Server = ingest.app.listen(env.PORT, env.HOST, () => {
    logger.info({ port: env.PORT, database: handle.kind, pid: process.pid, devices: preloaded }, 'tap-ingest listening');
  });
  server.keepAliveTimeout = 65_000;

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'tap-ingest stopping');
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const force = setTimeout(() => server.closeAllConnections(), 10_000);
    force.unref();
    await closed;
    await ingest.close();
    await rateLimiter?.close();
    await handle.close();
    logger.info('tap-ingest stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
