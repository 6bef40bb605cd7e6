/**
 * Per-client rate limit of the rider app API (issue 8 §5). The key is the authenticated integration
 * client (`req.clientId`, from its token), so one leaked or runaway token cannot take the API from
 * the others. With REDIS_URL the budget is one token bucket in Redis shared by every replica
 * (`createRedisRateLimiter` of @ridetally/http, failing open to a local bucket while Redis is
 * unreachable, as for validators); without it each process keeps its own bucket.
 */
import type { RequestHandler } from 'express';
import type { Env } from '@ridetally/config';
import { AppError, createMemoryRateLimiter, createRedisRateLimiter, type RateLimiter } from '@ridetally/http';
import type { Logger } from '@ridetally/telemetry';

/** Redis key prefix of the clients' buckets (the devices' is `rt:rate:device:`). */
export const CLIENT_RATE_PREFIX = 'rt:rate:client:';

export interface ClientRateLimit {
  limiter: RateLimiter;
  store: 'redis' | 'memory';
  ratePerS: number;
  burst: number;
  close(): Promise<void>;
}

/**
 * The limiter the composition roots (standalone main, platform) build from the environment:
 * `RIDER_CLIENT_RATE_PER_S` (0 = no limit: undefined), `RIDER_CLIENT_BURST` (default 2 × rate),
 * Redis when `REDIS_URL` is set.
 */
export async function createClientRateLimit(
  env: Pick<Env, 'REDIS_URL' | 'RIDER_CLIENT_RATE_PER_S' | 'RIDER_CLIENT_BURST'>,
  logger: Logger,
  options: { prefix?: string } = {},
): Promise<ClientRateLimit | undefined> {
  const ratePerS = env.RIDER_CLIENT_RATE_PER_S;
  if (ratePerS <= 0) return undefined;
  const burst = env.RIDER_CLIENT_BURST ?? 2 * ratePerS;
  if (!env.REDIS_URL) {
    return { limiter: createMemoryRateLimiter({ ratePerS, burst }), store: 'memory', ratePerS, burst, close: () => Promise.resolve() };
  }
  const limiter = createRedisRateLimiter({
    redis: env.REDIS_URL,
    prefix: options.prefix ?? CLIENT_RATE_PREFIX,
    ratePerS,
    burst,
    onError: (err) => logger.warn({ err: err.message }, 'client rate limiter: Redis unavailable, using the local bucket'),
  });
  await limiter.ready(5000).catch(() => logger.warn('client rate limiter: Redis not reachable at start, using the local bucket until it is'));
  return { limiter, store: 'redis', ratePerS, burst, close: () => limiter.close() };
}

/** After `requireClient`: one token per request from the client's bucket, else 429 + Retry-After. */
export function limitPerClient(limiter: RateLimiter, now: () => Date): RequestHandler {
  return async (req, _res, next) => {
    // requireClient ran first; a route without it is a programming error, not a client's.
    if (!req.clientId) throw new Error('limitPerClient needs requireClient before it');
    const decision = await limiter.take(req.clientId, now().getTime());
    if (!decision.allowed) {
      throw new AppError(
        'rate_limited',
        'too many requests from this client',
        { retryAfterS: decision.retryAfterS },
        { headers: { 'Retry-After': String(decision.retryAfterS) } },
      );
    }
    next();
  };
}
