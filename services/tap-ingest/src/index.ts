/** The tap-ingest service (validator API, SPEC §3), for the standalone main and the all-in-one platform. */
export { createIngestApp, createIngestRouter, type IngestApp, type IngestDeps, type IngestModule } from './app';
export { DEFAULT_INGEST_CONFIG, loadIngestConfig, type IngestConfig } from './ingest-config';
export { signTapRequest } from './signature';
export { createMemoryRateLimiter, type RateLimiter, type RateDecision } from '@ridetally/http';
export { generateDeviceSecret } from './device-secret';
export { createRedisRateLimiter, type RedisRateLimiter, type RedisRateLimiterOptions } from '@ridetally/http';
