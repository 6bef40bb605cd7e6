/**
 * devices.last_seen_at, written cheaply: requests only note the time in memory, and one UPDATE per
 * interval moves every seen device forward. Losing the last interval on a crash costs nothing.
 */
import { touchDevicesLastSeen, type Database } from '@ridetally/db';
import type { Logger } from '@ridetally/telemetry';

export interface LastSeenTracker {
  seen(deviceId: string, at: Date): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function createLastSeenTracker({ db, intervalMs = 10_000, log }: { db: Database; intervalMs?: number; log?: Logger }): LastSeenTracker {
  let pending = new Map<string, Date>();
  let flushing: Promise<void> = Promise.resolve();
  async function flush(): Promise<void> {
    if (pending.size === 0) return;
    const batch = pending;
    pending = new Map();
    try {
      await touchDevicesLastSeen(
        db,
        [...batch].map(([deviceId, at]) => ({ deviceId, at })),
      );
    } catch (err) {
      // Put them back for the next interval (unless newer times arrived meanwhile).
      for (const [id, at] of batch) if (!pending.has(id)) pending.set(id, at);
      log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not update devices.last_seen_at');
    }
  }
  const timer = setInterval(() => {
    flushing = flushing.then(flush);
  }, intervalMs);
  timer.unref();
  return {
    seen(deviceId, at) {
      const prev = pending.get(deviceId);
      if (!prev || prev < at) pending.set(deviceId, at);
    },
    flush() {
      flushing = flushing.then(flush);
      return flushing;
    },
    async close() {
      clearInterval(timer);
      flushing = flushing.then(flush);
      await flushing;
    },
  };
}
