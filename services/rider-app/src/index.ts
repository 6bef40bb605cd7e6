/** The rider app API service (SPEC §4), for the standalone main and the all-in-one platform. */
export { createRiderApp, createRiderRouter, type RiderDeps } from './app';
export { buildRiderOpenApi } from './openapi';
export { CLIENT_RATE_PREFIX, createClientRateLimit, limitPerClient, type ClientRateLimit } from './rate-limit';
