/**
 * Composition root of the standalone rider app API:
 *   PORT=8082 DATABASE_URL=postgres://… RIDETALLY_MASTER_KEY=… pnpm --filter @ridetally/rider-app start
 * Without DATABASE_URL it serves the embedded PGlite database in DATA_DIR. Migrations are not run
 * here (`pnpm ridetally migrate`). SIGTERM/SIGINT: stop accepting, finish requests, close, exit.
 */
import type { Server } from 'node:http';
import { loadEnv } from '@ridetally/config';
import { openDatabaseFromEnv, resolveKeyring } from '@ridetally/runtime';
import { createLogger } from '@ridetally/telemetry';
import { createRiderApp } from './app';
import { createClientRateLimit } from './rate-limit';

const env = loadEnv();
const logger = createLogger({ level: env.LOG_LEVEL, service: 'rider-app' });
const keyring = resolveKeyring(env);
const handle = await openDatabaseFromEnv(env, 'ridetally-rider-app');
// RIDER_CLIENT_RATE_PER_S per API client: one Redis budget for every replica with REDIS_URL, else per process.
const clientLimit = await createClientRateLimit(env, logger);
const app = createRiderApp({ db: handle.db, keyring, logger, rateLimiter: clientLimit?.limiter });
if (env.TRUST_PROXY) app.set('trust proxy', true);

const server: Server = app.listen(env.PORT, env.HOST, () => {
  logger.info({ port: env.PORT, database: handle.kind, clientRateLimit: clientLimit ? `${clientLimit.ratePerS}/s burst ${clientLimit.burst} (${clientLimit.store})` : 'off' }, 'rider-app listening');
});
server.keepAliveTimeout = 65_000;

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'rider-app stopping');
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), 10_000);
  force.unref();
  await closed;
  await clientLimit?.close();
  await handle.close();
  logger.info('rider-app stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
