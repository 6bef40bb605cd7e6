/**
 * Per-key rate limiting (a validator device, a rider-app API client) behind an interface, so a shared
 * store (Redis) can replace the in-memory token bucket when several replicas must share one budget.
 */
export interface RateDecision {
  allowed: boolean;
  /** Seconds until a request would be allowed (when refused). */
  retryAfterS: number;
}

export interface RateLimiter {
  take(key: string, nowMs: number): RateDecision | Promise<RateDecision>;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export interface MemoryRateLimiter extends RateLimiter {
  take(key: string, nowMs: number): RateDecision;
}

/** A token bucket per key: `ratePerS` refill, `burst` capacity. Idle full buckets are swept. */
export function createMemoryRateLimiter({ ratePerS, burst, maxKeys = 100_000 }: { ratePerS: number; burst: number; maxKeys?: number }): MemoryRateLimiter {
  const buckets = new Map<string, Bucket>();
  const sweep = (nowMs: number) => {
    for (const [k, b] of buckets) {
      if (b.tokens + ((nowMs - b.updatedMs) / 1000) * ratePerS >= burst) buckets.delete(k);
    }
  };
  return {
    take(key, nowMs) {
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= maxKeys) sweep(nowMs);
        b = { tokens: burst, updatedMs: nowMs };
        buckets.set(key, b);
      }
      b.tokens = Math.min(burst, b.tokens + (Math.max(0, nowMs - b.updatedMs) / 1000) * ratePerS);
      b.updatedMs = nowMs;
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { allowed: true, retryAfterS: 0 };
      }
      return { allowed: false, retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / ratePerS)) };
    },
  };
}

/** No limit (rate 0 in the configuration). */
export const unlimitedRateLimiter: RateLimiter = { take: () => ({ allowed: true, retryAfterS: 0 }) };
