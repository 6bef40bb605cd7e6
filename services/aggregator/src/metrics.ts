/** The worker's metrics: commit → counted lag, job outcomes, outbox backlog, queue depth. */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, type Registry } from '@ridetally/telemetry';

export interface AggregatorMetrics {
  lag: Histogram;
  jobs: Counter;
  outboxPending: Gauge;
  queueDepth: Gauge;
}

export function createAggregatorMetrics(
  registry: Registry,
  sources: { outboxPending: () => Promise<number>; queueDepth?: () => Promise<Record<string, number>> },
): AggregatorMetrics {
  const lag = new Histogram({
    name: 'ridetally_aggregate_lag_seconds',
    help: 'From the outbox entry written (with the facts) to it being counted',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const jobs = new Counter({
    name: 'ridetally_aggregate_jobs_total',
    help: 'Aggregation jobs by result',
    labelNames: ['result'],
    registers: [registry],
  });
  const outboxPending = new Gauge({
    name: 'ridetally_outbox_pending',
    help: 'Outbox entries not yet processed',
    registers: [registry],
    async collect() {
      this.set(await sources.outboxPending().catch(() => -1));
    },
  });
  const queueDepth = new Gauge({
    name: 'ridetally_aggregate_queue_depth',
    help: 'Aggregation jobs in the queue by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      if (!sources.queueDepth) return;
      const counts = await sources.queueDepth().catch(() => ({}));
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  return { lag, jobs, outboxPending, queueDepth };
}

/** Serves GET /metrics (and /healthz) on the port; 0 picks a free port. */
export async function serveMetrics(registry: Registry, port: number, host = '0.0.0.0'): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry
        .metrics()
        .then((body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body))
        .catch(() => res.writeHead(500).end());
      return;
    }
    if (req.url === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}
