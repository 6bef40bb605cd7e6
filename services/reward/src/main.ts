/**
 * Composition root of the standalone reward service (staff API):
 *   PORT=8082 DATABASE_URL=postgres://… RIDETALLY_MASTER_KEY=… pnpm --filter @ridetally/reward start
 * Migrations are not run here (`pnpm ridetally migrate`); the first admin comes from
 * `pnpm ridetally user add --username … --role admin --password-stdin`.
 */
import type { Server } from 'node:http';
import { loadEnv } from '@ridetally/config';
import { openDatabaseFromEnv, resolveKeyring } from '@ridetally/runtime';
import { createLogger } from '@ridetally/telemetry';
import { createRewardApp } from './app';

const env = loadEnv();
const logger = createLogger({ level: env.LOG_LEVEL, service: 'reward' });
const keyring = resolveKeyring(env);
const handle = await openDatabaseFromEnv(env, 'ridetally-reward');
const app = createRewardApp({ db: handle.db, keyring, logger });
if (env.TRUST_PROXY) app.set('trust proxy', true);

const server: Server = app.listen(env.PORT, env.HOST, () => {
  logger.info({ port: env.PORT, database: handle.kind }, 'reward service listening');
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'reward service stopping');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await handle.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
