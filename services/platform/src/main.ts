/**
 * `pnpm start`: the whole platform in one process on one port (SPEC §6).
 *
 * Embedded default (no DATABASE_URL): PGlite in DATA_DIR, a master key generated into DATA_DIR,
 * migrations applied on start (there is nobody else to run them), jobs in-process, and a demo city
 * seeded into a new data folder unless `--no-demo` (or SEED_DEMO=false). With DATABASE_URL the same
 * process runs against PostgreSQL (`pnpm ridetally migrate` first; never seeded).
 */
import type { Server } from 'node:http';
import { loadEnv } from '@ridetally/config';
import { migrateToLatest } from '@ridetally/db';
import { isEmbedded, isNewDataDir, openDatabaseFromEnv, resolveKeyring } from '@ridetally/runtime';
import { createLogger, createMetricsRegistry } from '@ridetally/telemetry';
import { createPlatform } from './platform';

const args = new Set(process.argv.slice(2));
if (args.has('--help') || args.has('-h')) {
  process.stdout.write('usage: pnpm start [--no-demo]\n');
  process.exit(0);
}

const env = loadEnv();
const logger = createLogger({ level: env.LOG_LEVEL, service: 'platform' });
const embedded = isEmbedded(env);
const firstStart = embedded && isNewDataDir(env);
const keyring = resolveKeyring(env);
const handle = await openDatabaseFromEnv(env, 'ridetally-platform');
if (embedded) {
  const applied = await migrateToLatest(handle.db);
  if (applied.length) logger.info({ applied }, 'embedded database migrated');
}
const registry = createMetricsRegistry('platform');
const platform = await createPlatform({
  db: handle.db,
  keyring,
  logger,
  registry,
  jobs: env.REDIS_URL ? { redisUrl: env.REDIS_URL, prefix: 'ridetally' } : 'in-process',
});

const seedDemo = firstStart && env.SEED_DEMO && !args.has('--no-demo');
if (seedDemo) logger.info('new data folder: the demo city will be seeded');

const server: Server = platform.app.listen(env.PORT, env.HOST, () => {
  const base = `http://localhost:${env.PORT}`;
  logger.info({ port: env.PORT, database: handle.kind, dataDir: embedded ? env.DATA_DIR : undefined }, 'ridetally listening');
  process.stdout.write(
    [
      '',
      `ridetally is running: ${base}`,
      `  staff console   ${base}/console/`,
      `  validator API   POST ${base}/v1/taps`,
      `  rider app API   ${base}/v1/openapi.json`,
      `  staff API       ${base}/api/openapi.json`,
      '',
    ].join('\n') + '\n',
  );
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'ridetally stopping');
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  setTimeout(() => server.closeAllConnections(), 10_000).unref();
  await closed;
  await platform.close();
  await handle.close();
  logger.info('ridetally stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
