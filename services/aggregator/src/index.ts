/** The aggregation worker (issue 4): outbox → counted rides per person and period, and volume. */
export { startAggregator, type Aggregator, type AggregatorOptions } from './aggregator';
export { processOutboxEntry } from './processors/outbox.processor';
export { recomputePeriod, type RecomputeOptions, type RecomputeReport } from './recompute';
export { rederivePersons, rederiveVolume } from './rederive';
