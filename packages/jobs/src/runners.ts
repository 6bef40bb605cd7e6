/**
 * The two job runners. BullMQ (scaled): queues and workers on Redis with the catalog's job ids,
 * attempts and backoff. In-process (embedded): the same handlers called in this process. Both refuse
 * to start when a catalog job of their queues has no handler.
 */
import { Queue, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  JOB_CATALOG,
  parseJobPayload,
  QUEUES,
  type JobHandlers,
  type JobName,
  type JobPayload,
  type JobQueue,
  type QueueName,
} from './catalog';

export class MissingHandlerError extends Error {
  override name = 'MissingHandlerError';
}

/** Throws unless every catalog job of the queues has a handler. */
export function assertHandlersComplete(handlers: JobHandlers, queues: readonly QueueName[]): void {
  const missing = (Object.keys(JOB_CATALOG) as JobName[]).filter(
    (n) => queues.includes(JOB_CATALOG[n].queue) && !handlers[n],
  );
  if (missing.length) throw new MissingHandlerError(`no handler for job(s): ${missing.join(', ')}`);
}

export interface BullOptions {
  connection: Redis;
  /** Key prefix (tests use a unique one per run). */
  prefix: string;
}

/** A producer: enqueues catalog jobs with their deterministic job ids. */
export function createBullJobQueue({
  connection,
  prefix,
}: BullOptions): JobQueue & { queue(name: QueueName): Queue } {
  const queues = new Map<QueueName, Queue>();
  const queue = (name: QueueName): Queue => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(QUEUES[name], { connection: connection as ConnectionOptions, prefix });
      queues.set(name, q);
    }
    return q;
  };
  return {
    queue,
    async enqueue<N extends JobName>(name: N, payload: JobPayload<N>): Promise<void> {
      const spec = JOB_CATALOG[name];
      await queue(spec.queue).add(name, payload, {
        jobId: spec.jobId(payload),
        attempts: spec.attempts,
        backoff: { type: 'exponential', delay: spec.backoffMs },
        removeOnComplete: true,
        removeOnFail: true,
      });
    },
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}

export interface WorkerEvents {
  onCompleted?: (name: JobName) => void;
  onFailed?: (name: JobName, err: Error) => void;
}

/** Starts BullMQ workers for the queues; refuses to start when a handler is missing. */
export function startBullWorkers(
  opts: BullOptions & {
    handlers: JobHandlers;
    queues: readonly QueueName[];
    concurrency: number;
  } & WorkerEvents,
): { close(): Promise<void>; workers: Worker[] } {
  assertHandlersComplete(opts.handlers, opts.queues);
  const workers = opts.queues.map(
    (q) =>
      new Worker(
        QUEUES[q],
        async (job: Job) => {
          const name = job.name as JobName;
          const handler = opts.handlers[name] as ((p: unknown) => Promise<void>) | undefined;
          if (!handler || !(name in JOB_CATALOG)) throw new UnrecoverableError(`unknown job ${job.name}`);
          let payload: unknown;
          try {
            payload = parseJobPayload(name, job.data);
          } catch {
            throw new UnrecoverableError(`bad payload for ${name}`);
          }
          await handler(payload);
        },
        {
          connection: opts.connection as ConnectionOptions,
          prefix: opts.prefix,
          concurrency: opts.concurrency,
        },
      ),
  );
  for (const w of workers) {
    w.on('completed', (job) => opts.onCompleted?.(job.name as JobName));
    w.on('failed', (job, err) => opts.onFailed?.((job?.name ?? 'unknown') as JobName, err));
    // Connection errors are retried by ioredis; without a listener they would crash the process.
    w.on('error', () => undefined);
  }
  return {
    workers,
    async close() {
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}

/** Embedded runner: enqueue runs the handler in this process, one job at a time, with the catalog's retries. */
export function createInProcessJobQueue(
  handlers: JobHandlers,
  queues: readonly QueueName[],
  events: WorkerEvents = {},
): JobQueue & { idle(): Promise<void> } {
  assertHandlersComplete(handlers, queues);
  let chain: Promise<void> = Promise.resolve();
  const seen = new Set<string>();
  let closed = false;
  return {
    enqueue<N extends JobName>(name: N, payload: JobPayload<N>): Promise<void> {
      const spec = JOB_CATALOG[name];
      const id = spec.jobId(payload);
      if (closed || seen.has(id)) return Promise.resolve();
      seen.add(id);
      const handler = handlers[name] as ((p: unknown) => Promise<void>) | undefined;
      chain = chain.then(async () => {
        for (let attempt = 1; ; attempt++) {
          try {
            await handler!(parseJobPayload(name, payload));
            events.onCompleted?.(name);
            break;
          } catch (err) {
            if (attempt >= spec.attempts || closed) {
              events.onFailed?.(name, err as Error);
              break;
            }
            await new Promise((r) => setTimeout(r, spec.backoffMs * 2 ** Math.min(attempt - 1, 6)));
          }
        }
        seen.delete(id);
      });
      return Promise.resolve();
    },
    idle: () => chain,
    async close() {
      closed = true;
      await chain;
    },
  };
}
