/**
 * The aggregator: turns outbox entries into counted rides and volume.
 *
 * Scaled (`{ redisUrl, prefix }`): a relay claims pending entries and enqueues one BullMQ job per
 * entry (job id = outbox id) in the same transaction that marks them enqueued; a reconciler
 * re-enqueues entries still pending long after (a flushed or restarted Redis); workers apply them.
 * Several processes may run all three: claims use SKIP LOCKED, and applying is idempotent.
 * Embedded (`'in-process'`): one loop applies pending entries in id order with the same processor.
 */
import type { Server } from 'node:http';
import {
  claimStaleOutbox,
  claimUnenqueuedOutbox,
  countPendingOutbox,
  findPendingOutboxIds,
  recordOutboxFailure,
  type Database,
} from '@ridetally/db';
import {
  assertNoEviction,
  createBullJobQueue,
  createRedis,
  startBullWorkers,
  assertHandlersComplete,
  JOB_CATALOG,
  QUEUES,
  type JobHandlers,
} from '@ridetally/jobs';
import { createMetricsRegistry, type Logger, type Registry } from '@ridetally/telemetry';
import { UnrecoverableError } from 'bullmq';
import { createAggregatorMetrics, serveMetrics, type AggregatorMetrics } from './metrics';
import { BadOutboxEntryError, processOutboxEntry } from './processors/outbox.processor';

export interface AggregatorOptions {
  db: Database;
  mode: 'in-process' | { redisUrl: string; prefix: string };
  logger: Logger;
  /** Metrics registry to add to (the platform shares its own); a new one otherwise. */
  registry?: Registry;
  /** Serve /metrics on this port (scaled worker); undefined: do not serve. */
  metricsPort?: number;
  /** Concurrent jobs per worker process. */
  concurrency?: number;
  /** How often the relay / in-process loop looks for new entries. */
  pollMs?: number;
  /** Entries enqueued this long ago and still pending are enqueued again. */
  staleSeconds?: number;
  /** Pending tap batches applied together with one job's batch (default 4: up to 5 × 2,000 taps per transaction). */
  coalesceTapBatches?: number;
  /** Pending ratings applied together with one job's tap batch or rating (default 99: up to 100 ratings per transaction). */
  coalesceRatings?: number;
  /** Run the relay and reconciler in this process (default true). */
  relay?: boolean;
  /** Run workers in this process (default true). */
  work?: boolean;
}

export interface Aggregator {
  metrics: AggregatorMetrics;
  registry: Registry;
  metricsServer?: Server;
  /** Resolves once no entry is pending (tests, the CLI). */
  waitUntilIdle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startAggregator(opts: AggregatorOptions): Promise<Aggregator> {
  const { db, logger } = opts;
  const registry = opts.registry ?? createMetricsRegistry('aggregator');
  const pollMs = opts.pollMs ?? 100;
  const staleSeconds = opts.staleSeconds ?? 30;
  const closers: (() => Promise<void>)[] = [];
  let stopping = false;

  let queueDepth: (() => Promise<Record<string, number>>) | undefined;
  const metrics = createAggregatorMetrics(registry, {
    outboxPending: () => countPendingOutbox(db),
    queueDepth: () => queueDepth?.() ?? Promise.resolve({}),
  });

  const applyEntry = async (outboxId: number): Promise<number[]> => {
    try {
      const result = await processOutboxEntry(db, outboxId, {
        coalesceTapBatches: opts.coalesceTapBatches ?? 4,
        coalesceRatings: opts.coalesceRatings ?? 99,
      });
      for (const at of result.createdAt) metrics.lag.observe((Date.now() - at.getTime()) / 1000);
      metrics.jobs.inc({ result: 'completed' });
      return result.applied;
    } catch (err) {
      metrics.jobs.inc({ result: 'failed' });
      const message = err instanceof Error ? `${err.name}: ${err.message}` : 'unknown error';
      await recordOutboxFailure(db, outboxId, message).catch(() => undefined);
      logger.warn({ outboxId, err: message }, 'aggregation failed');
      if (err instanceof BadOutboxEntryError) throw new UnrecoverableError(message);
      throw err;
    }
  };
  const handlers: JobHandlers = {
    'aggregate.outbox': async ({ outboxId }) => {
      await applyEntry(outboxId);
    },
  };
  assertHandlersComplete(handlers, ['aggregate']);

  if (opts.mode === 'in-process') {
    const loop = (async () => {
      while (!stopping) {
        const ids = await findPendingOutboxIds(db, 200).catch(() => [] as number[]);
        let progressed = false;
        // entries of this pass already applied with an earlier one (coalesced): not visited again
        const done = new Set<number>();
        for (const id of ids) {
          if (stopping) break;
          if (done.has(id)) continue;
          try {
            for (const applied of await applyEntry(id)) done.add(applied);
            progressed = true;
          } catch {
            // recorded on the entry; retried on a later pass
          }
        }
        if (!progressed) await sleep(pollMs);
      }
    })();
    closers.push(() => loop);
  } else {
    const { redisUrl, prefix } = opts.mode;
    const producer = createRedis(redisUrl, 'worker');
    producer.on('error', () => undefined);
    await assertNoEviction(producer);
    const jobQueue = createBullJobQueue({ connection: producer, prefix });
    const queue = jobQueue.queue('aggregate');
    queueDepth = () => queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
    closers.push(async () => {
      await jobQueue.close();
      producer.disconnect();
    });
    const enqueueAll = async (ids: readonly number[]) => {
      if (ids.length === 0) return;
      const spec = JOB_CATALOG['aggregate.outbox'];
      await queue.addBulk(
        ids.map((outboxId) => ({
          name: 'aggregate.outbox',
          data: { outboxId },
          opts: {
            jobId: spec.jobId({ outboxId }),
            attempts: spec.attempts,
            backoff: { type: 'exponential', delay: spec.backoffMs },
            removeOnComplete: true,
            removeOnFail: true,
          },
        })),
      );
    };
    if (opts.relay ?? true) {
      const relay = (async () => {
        let lastReconcile = 0;
        while (!stopping) {
          try {
            const n = await db.transaction().execute(async (tx) => {
              const claimed = await claimUnenqueuedOutbox(tx, 1000);
              await enqueueAll(claimed.map((c) => c.id));
              return claimed.length;
            });
            if (Date.now() - lastReconcile > (staleSeconds * 1000) / 2) {
              lastReconcile = Date.now();
              const stale = await db.transaction().execute(async (tx) => {
                const ids = await claimStaleOutbox(tx, staleSeconds, 5000);
                await enqueueAll(ids);
                return ids.length;
              });
              if (stale > 0) logger.info({ entries: stale }, 're-enqueued stale outbox entries');
            }
            if (n < 1000) await sleep(pollMs);
          } catch (err) {
            logger.warn(
              { err: err instanceof Error ? err.message : 'unknown' },
              'outbox relay failed; retrying',
            );
            await sleep(Math.max(pollMs, 500));
          }
        }
      })();
      closers.unshift(() => relay);
    }
    if (opts.work ?? true) {
      const connection = createRedis(redisUrl, 'worker');
      connection.on('error', () => undefined);
      await assertNoEviction(connection);
      const workers = startBullWorkers({
        connection,
        prefix,
        handlers,
        queues: ['aggregate'],
        concurrency: opts.concurrency ?? 2,
      });
      closers.unshift(async () => {
        await workers.close();
        connection.disconnect();
      });
    }
  }

  let metricsServer: Server | undefined;
  if (opts.metricsPort !== undefined) {
    metricsServer = await serveMetrics(registry, opts.metricsPort);
    const s = metricsServer;
    closers.push(() => new Promise<void>((r) => s.close(() => r())));
  }
  logger.info(
    { mode: opts.mode === 'in-process' ? 'in-process' : 'bullmq', queue: QUEUES.aggregate },
    'aggregator started',
  );

  return {
    metrics,
    registry,
    metricsServer,
    async waitUntilIdle(timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      while ((await countPendingOutbox(db)) > 0) {
        if (Date.now() > until) throw new Error('aggregator did not become idle in time');
        await sleep(50);
      }
    },
    async close() {
      stopping = true;
      for (const c of closers) await c();
    },
  };
}
