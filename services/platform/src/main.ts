/**
 * `pnpm start`: the whole platform in one process on one port (SPEC §6).
 *
 * Embedded default (no DATABASE_URL): PGlite in DATA_DIR, a master key generated into DATA_DIR,
 * migrations applied on start (there is nobody else to run them), jobs in-process, and a demo city
 * seeded into a new data folder unless `--no-demo` (or SEED_DEMO=false). With DATABASE_URL the same
 * process runs against PostgreSQL (`pnpm ridetally migrate` first; never seeded).
 */
import type { Server } from 'node:http';
import { join } from 'node:path';
import { loadEnv } from '@ridetally/config';
import { migrateToLatest } from '@ridetally/db';
import { dataDir, isEmbedded, isNewDataDir, openDatabaseFromEnv, resolveKeyring } from '@ridetally/runtime';
import { createClientRateLimit } from '@ridetally/rider-app';
import { loadIngestConfig } from '@ridetally/tap-ingest';
import { createLogger, createMetricsRegistry } from '@ridetally/telemetry';
import { DemoSeedAborted, demoBanner, demoSeedState, seedDemo } from './demo-seed';
import { createPlatform } from './platform';

const argv = process.argv.slice(2);
const args = new Set(argv);
if (args.has('--help') || args.has('-h')) {
  process.stdout.write('usage: pnpm start [--no-demo] [--demo-days <n>]\n');
  process.exit(0);
}
// A shorter demo (days from the previous quarter's start instead of up to yesterday): for tests.
const demoDaysArg = argv.indexOf('--demo-days') >= 0 ? Number(argv[argv.indexOf('--demo-days') + 1]) : undefined;
if (demoDaysArg !== undefined && !(Number.isInteger(demoDaysArg) && demoDaysArg > 0)) {
  process.stderr.write('--demo-days must be a positive integer\n');
  process.exit(2);
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
// The rider app's per-client limit (RIDER_CLIENT_*): in Redis with REDIS_URL, in this process otherwise.
const riderLimit = await createClientRateLimit(env, logger);
const platform = await createPlatform({
  db: handle.db,
  keyring,
  logger,
  registry,
  // The same INGEST_* variables as the standalone validator API (README).
  ingestConfig: loadIngestConfig(env),
  riderRateLimiter: riderLimit?.limiter,
  jobs: env.REDIS_URL ? { redisUrl: env.REDIS_URL, prefix: 'ridetally' } : 'in-process',
});

// Seeded only in embedded mode (never with DATABASE_URL, SPEC §6): into a new data folder, or again
// when an earlier seed was interrupted (DATA_DIR/demo/state.json still says "seeding").
const demoDir = join(dataDir(env), 'demo');
const demoState = embedded ? await demoSeedState(demoDir) : undefined;
const wantDemo = embedded && env.SEED_DEMO && !args.has('--no-demo') && (firstStart || demoState?.status === 'seeding');
if (wantDemo) logger.info(firstStart ? 'new data folder: the demo city will be seeded' : 'an interrupted demo seed is resumed');
const seedAbort = new AbortController();
let seeding: Promise<void> | undefined;

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
  if (wantDemo) {
    process.stdout.write('seeding the demo city (progress in the log; counts appear in the console as it runs) …\n');
    seeding = seedDemo({ db: handle.db, keyring, baseUrl: `http://${selfHost(env.HOST)}:${env.PORT}`, logger, dir: demoDir, signal: seedAbort.signal, days: demoDaysArg })
      .then((result) => {
        process.stdout.write(demoBanner(base, result) + '\n');
      })
      .catch((error: unknown) => {
        if (error instanceof DemoSeedAborted || seedAbort.signal.aborted) logger.warn('demo seed interrupted; the next start resumes it');
        else logger.error({ err: error }, 'demo seed failed; the next start tries again');
      });
  }
});

/** Where this process reaches itself: the loopback when it listens on every interface. */
function selfHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'ridetally stopping');
  // The seed drives this server over HTTP: stop it first (it stops between requests).
  seedAbort.abort();
  if (seeding) await Promise.race([seeding, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive connections (the seed's among them) close as soon as their last response is out.
  const closeIdle = setInterval(() => server.closeIdleConnections(), 200);
  server.closeIdleConnections();
  setTimeout(() => server.closeAllConnections(), 10_000).unref();
  await closed;
  clearInterval(closeIdle);
  await platform.close();
  await riderLimit?.close();
  await handle.close();
  logger.info('ridetally stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
