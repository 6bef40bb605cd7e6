/**
 * Redis connections for BullMQ. Workers block on Redis and must never give up a command
 * (`maxRetriesPerRequest: null`); producers on a request path fail fast instead of queueing commands
 * while Redis is away (`enableOfflineQueue: false`). Redis must not evict keys: an evicted job is
 * lost work, so start-up refuses any policy but `noeviction`.
 */
import { Redis } from 'ioredis';

export type RedisRole = 'worker' | 'producer';

export function createRedis(url: string, role: RedisRole): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    // Reconnect forever with a capped delay: Redis restarts must not end the process.
    retryStrategy: (times) => Math.min(times * 200, 2000),
    lazyConnect: false,
  });
}

export class RedisConfigError extends Error {
  override name = 'RedisConfigError';
}

/** Throws RedisConfigError unless maxmemory-policy is noeviction (read from INFO: CONFIG may be disabled). */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const info = await redis.info('memory');
  const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
  if (policy !== 'noeviction') {
    throw new RedisConfigError(
      `Redis maxmemory-policy is "${policy ?? 'unknown'}"; ridetally needs "noeviction" (an evicted job is lost work). Set it with CONFIG SET maxmemory-policy noeviction or in redis.conf.`,
    );
  }
}
