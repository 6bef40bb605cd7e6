/**
 * Composition root of the scaled aggregation worker: `pnpm --filter @ridetally/aggregator start`.
 * Needs DATABASE_URL and REDIS_URL; runs relay, reconciler and workers, serves /metrics, and closes
 * everything on SIGTERM / SIGINT (in-flight jobs finish; unfinished ones stay pending in the outbox).
 */
import { loadEnv } from '@ridetally/config';
import { openDatabase } from '@ridetally/db';
import { createLogger } from '@ridetally/telemetry';
import { z } from 'zod';
import { startAggregator } from './aggregator';

const WorkerEnvSchema = z.object({
  DATABASE_URL: z.string().url(),
  REDIS_URL: z.string().url(),
  AGGREGATOR_QUEUE_PREFIX: z.string().default('ridetally'),
  AGGREGATOR_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  AGGREGATOR_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  AGGREGATOR_STALE_SECONDS: z.coerce.number().min(1).default(30),
  AGGREGATOR_RELAY: z.enum(['true', 'false']).default('true'),
  /** Pending tap batches one job applies together with its own under load. */
  AGGREGATOR_COALESCE_TAP_BATCHES: z.coerce.number().int().min(0).max(100).default(9),
  /** Pending ratings one job applies together with its own tap batch or rating under load. */
  AGGREGATOR_COALESCE_RATINGS: z.coerce.number().int().min(0).max(1000).default(99),
  /** How often the relay looks for new outbox entries when it found none. */
  AGGREGATOR_POLL_MS: z.coerce.number().int().min(5).max(10_000).default(50),
});

const env = loadEnv();
const logger = createLogger({ level: env.LOG_LEVEL, service: 'aggregator' });
const parsed = WorkerEnvSchema.safeParse(process.env);
if (!parsed.success) {
  logger.fatal(
    { problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) },
    'invalid environment',
  );
  process.exit(2);
}
const cfg = parsed.data;
const handle = await openDatabase({
  url: cfg.DATABASE_URL,
  poolSize: env.DATABASE_POOL_SIZE,
  applicationName: 'ridetally-aggregator',
});
let aggregator;
try {
  aggregator = await startAggregator({
    db: handle.db,
    mode: { redisUrl: cfg.REDIS_URL, prefix: cfg.AGGREGATOR_QUEUE_PREFIX },
    logger,
    concurrency: cfg.AGGREGATOR_CONCURRENCY,
    metricsPort: cfg.AGGREGATOR_METRICS_PORT,
    staleSeconds: cfg.AGGREGATOR_STALE_SECONDS,
    relay: cfg.AGGREGATOR_RELAY === 'true',
    coalesceTapBatches: cfg.AGGREGATOR_COALESCE_TAP_BATCHES,
    coalesceRatings: cfg.AGGREGATOR_COALESCE_RATINGS,
    pollMs: cfg.AGGREGATOR_POLL_MS,
  });
} catch (err) {
  logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'aggregator refused to start');
  await handle.close();
  process.exit(1);
}
const running = aggregator;
let closing = false;
const shutdown = (signal: string) => {
  if (closing) return;
  closing = true;
  logger.info({ signal }, 'closing');
  void running
    .close()
    .then(() => handle.close())
    .then(() => process.exit(0))
    .catch(() => process.exit(1));
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
