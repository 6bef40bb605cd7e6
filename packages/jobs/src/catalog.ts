/**
 * The job catalog: each job name maps to its queue, zod payload schema, retry policy and job-id
 * rule. Payloads carry references (outbox ids, periods), never personal data. The runtime refuses to
 * start a worker for a queue whose job names have no handler.
 *
 * Two runners implement `JobQueue`: BullMQ on Redis (scaled) and an in-process runner (embedded).
 */
import { z } from 'zod';

export const QUEUES = {
  aggregate: 'aggregate',
  maintenance: 'maintenance',
  exports: 'exports',
} as const;
export type QueueName = keyof typeof QUEUES;

interface JobSpec<S extends z.ZodType> {
  queue: QueueName;
  payload: S;
  attempts: number;
  backoffMs: number;
  /** Deterministic job id: the same work enqueued twice is one job. */
  jobId: (payload: z.infer<S>) => string;
}

function spec<S extends z.ZodType>(s: JobSpec<S>): JobSpec<S> {
  return s;
}

export const JOB_CATALOG = {
  /** Apply one outbox entry (a tap batch, a rating, a roster/binding/route change) to the counts. */
  'aggregate.outbox': spec({
    queue: 'aggregate',
    payload: z.object({ outboxId: z.number().int().positive() }).strict(),
    attempts: 20,
    backoffMs: 500,
    jobId: (p) => `outbox-${p.outboxId}`,
  }),
} as const;

export type JobName = keyof typeof JOB_CATALOG;
export type JobPayload<N extends JobName> = z.infer<(typeof JOB_CATALOG)[N]['payload']>;

export type JobHandler<N extends JobName> = (payload: JobPayload<N>) => Promise<void>;
export type JobHandlers = { [N in JobName]?: JobHandler<N> };

/** Validates a payload against the catalog; throws on a bad one (never retried). */
export function parseJobPayload<N extends JobName>(name: N, payload: unknown): JobPayload<N> {
  return JOB_CATALOG[name].payload.parse(payload) as JobPayload<N>;
}

export interface JobQueue {
  enqueue<N extends JobName>(name: N, payload: JobPayload<N>): Promise<void>;
  close(): Promise<void>;
}
