/**
 * Jobs: the catalog (name → queue, zod payload, retries, job-id rule), Redis connections with their
 * start-up checks, and the two runners (BullMQ on Redis, in-process for the embedded mode).
 */
export * from './catalog';
export * from './redis';
export * from './runners';
