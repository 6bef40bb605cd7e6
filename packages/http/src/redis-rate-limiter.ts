/**
 * The per-key token bucket in Redis, so that every replica of tap-ingest (or of any service that
 * takes a `RateLimiter`) draws from one budget per key. One Lua script does read-refill-take-write
 * atomically; the bucket is a hash `{t: tokens, u: updated ms}` that expires once it would be full
 * again, so idle keys cost nothing.
 *
 * Redis unavailable (down, slow beyond `timeoutMs`, or the script fails): the limiter FAILS OPEN to
 * an in-memory bucket of the same rate in this replica. Why open: PostgreSQL is the only source of
 * truth and Redis holds no fact (SPEC §6); validators retry every failure, so refusing during a
 * Redis outage would turn a cache outage into an ingest outage and a retry storm for the whole fleet.
 * Why not unlimited: the local bucket still bounds a device to `replicas × rate` until Redis is back.
 */
import { Redis } from 'ioredis';
import { createMemoryRateLimiter, type RateDecision, type RateLimiter } from './rate-limiter';

const TOKEN_BUCKET = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens = tonumber(b[1])
local updated = tonumber(b[2])
if tokens == nil or updated == nil then
  tokens = burst
  updated = now
end
-- replicas' clocks differ a little: time never runs backwards for a bucket
if now > updated then
  tokens = math.min(burst, tokens + (now - updated) / 1000 * rate)
  updated = now
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'u', tostring(updated))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return { allowed, tostring(tokens) }
`;

export interface RedisRateLimiterOptions {
  /** An ioredis client (shared, not closed by the limiter) or a URL (a client owned and closed by it). */
  redis: Redis | string;
  /** Key prefix, e.g. `rt:rate:device:`; tests use a unique one. */
  prefix: string;
  ratePerS: number;
  burst: number;
  /** A Redis call slower than this counts as Redis unavailable (fail open to the local bucket). */
  timeoutMs?: number;
  /** Told once per failure (metrics, a warning log line); never given the key's secrets. */
  onError?: (err: Error) => void;
}

export interface RedisRateLimiter extends RateLimiter {
  take(key: string, nowMs: number): Promise<RateDecision>;
  /** Resolves once the client is connected (call at start-up: until then every take fails open locally). */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

interface TokenBucketRedis extends Redis {
  rtTokenBucket(key: string, rate: number, burst: number, nowMs: number): Promise<[number, string]>;
}

export function createRedisRateLimiter(opts: RedisRateLimiterOptions): RedisRateLimiter {
  const owned = typeof opts.redis === 'string';
  // Commands fail at once while disconnected (no offline queue) instead of waiting for a reconnect.
  const client = (
    typeof opts.redis === 'string' ? new Redis(opts.redis, { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: false }) : opts.redis
  ) as TokenBucketRedis;
  if (owned) client.on('error', () => undefined); // reported per call through onError
  if (typeof client.rtTokenBucket !== 'function') client.defineCommand('rtTokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET });
  const local = createMemoryRateLimiter({ ratePerS: opts.ratePerS, burst: opts.burst });
  const timeoutMs = opts.timeoutMs ?? 100;

  return {
    async take(key, nowMs) {
      let timer: NodeJS.Timeout | undefined;
      try {
        const [allowed, tokens] = await Promise.race([
          client.rtTokenBucket(opts.prefix + key, opts.ratePerS, opts.burst, nowMs),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`rate limiter: Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        if (allowed === 1) return { allowed: true, retryAfterS: 0 };
        return { allowed: false, retryAfterS: Math.max(1, Math.ceil((1 - Number(tokens)) / opts.ratePerS)) };
      } catch (err) {
        opts.onError?.(err instanceof Error ? err : new Error(String(err)));
        return local.take(key, nowMs);
      } finally {
        clearTimeout(timer);
      }
    },
    async ready(readyTimeoutMs = 5000) {
      if (client.status === 'ready') return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`rate limiter: Redis not ready within ${readyTimeoutMs} ms`)), readyTimeoutMs);
        client.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    async close() {
      if (owned) client.disconnect();
      await Promise.resolve();
    },
  };
}
