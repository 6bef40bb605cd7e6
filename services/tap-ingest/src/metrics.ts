/** The ingest service's Prometheus metrics (prefix ridetally_ingest_). */
import { Counter, Histogram, type Registry } from '@ridetally/telemetry';

export interface IngestMetrics {
  tapsAccepted: Counter;
  tapsDuplicate: Counter;
  tapsRejected: Counter<'code'>;
  requests: Counter<'status'>;
  authFailures: Counter<'reason'>;
  vehicleMismatch: Counter;
  batchDuration: Histogram;
  groupSize: Histogram;
  groupDuration: Histogram;
  dbErrors: Counter<'kind'>;
}

/** Registers the metrics once per registry (the all-in-one platform shares one registry). */
export function createIngestMetrics(registry: Registry): IngestMetrics {
  const existing = registry.getSingleMetric('ridetally_ingest_taps_accepted_total');
  const cached = existing ? metricsByRegistry.get(registry) : undefined;
  if (cached) return cached;
  const registers = [registry];
  const metrics: IngestMetrics = {
    tapsAccepted: new Counter({ name: 'ridetally_ingest_taps_accepted_total', help: 'Taps newly stored', registers }),
    tapsDuplicate: new Counter({ name: 'ridetally_ingest_taps_duplicate_total', help: 'Taps already stored (resent), answered as accepted before', registers }),
    tapsRejected: new Counter({ name: 'ridetally_ingest_taps_rejected_total', help: 'Taps rejected and quarantined, by code', labelNames: ['code'], registers }),
    requests: new Counter({ name: 'ridetally_ingest_requests_total', help: 'POST /v1/taps requests by status', labelNames: ['status'], registers }),
    authFailures: new Counter({ name: 'ridetally_ingest_auth_failures_total', help: 'Requests refused with 401, by reason', labelNames: ['reason'], registers }),
    vehicleMismatch: new Counter({ name: 'ridetally_ingest_vehicle_mismatch_taps_total', help: "Taps whose vehicleId is not the device's registered vehicle", registers }),
    batchDuration: new Histogram({
      name: 'ridetally_ingest_batch_duration_seconds',
      help: 'POST /v1/taps latency, from request to answer',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    groupSize: new Histogram({
      name: 'ridetally_ingest_group_size_taps',
      help: 'Taps per group commit',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
      registers,
    }),
    groupDuration: new Histogram({
      name: 'ridetally_ingest_group_commit_seconds',
      help: 'Duration of one group commit transaction',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    dbErrors: new Counter({ name: 'ridetally_ingest_db_errors_total', help: 'Database errors on the ingest path, by kind', labelNames: ['kind'], registers }),
  };
  metricsByRegistry.set(registry, metrics);
  return metrics;
}

const metricsByRegistry = new WeakMap<Registry, IngestMetrics>();
