/**
 * How validators upload: each device sends its taps in batches (at most 500 taps, at most 20 minutes
 * of taps) shortly after; an offline device stores its taps and uploads them when it comes back,
 * newest batch first; now and then a batch is sent twice (a retry after a lost response).
 */
import { addDays, startOfShanghaiDay } from './calendar';
import type { SimCity } from './city.model';
import { createRng } from './prng';
import type { DayTraffic, SimTap, TapBatch } from './traffic.model';

export const MAX_BATCH_TAPS = 500;
/** Default span of taps in one batch: validators upload every 20 minutes or 500 taps. */
export const DEFAULT_BATCH_MINUTES = 20;
export const RESEND_RATE = 0.003;

export interface Uplink {
  /** The batches uploaded during this day (incl. stored ones of devices coming back), by upload time. */
  push(day: DayTraffic): TapBatch[];
  /** Whatever is still stored on offline devices when the simulation ends. */
  flush(): TapBatch[];
}

function chunk(
  deviceId: string,
  taps: SimTap[],
  spanMs: number,
  uploadAt: (last: SimTap) => number,
): TapBatch[] {
  const batches: TapBatch[] = [];
  let current: SimTap[] = [];
  for (const tap of taps) {
    if (
      current.length > 0 &&
      (current.length >= MAX_BATCH_TAPS || tap.tappedAt - current[0]!.tappedAt >= spanMs)
    ) {
      batches.push({ deviceId, uploadAt: uploadAt(current.at(-1)!), taps: current, resend: false });
      current = [];
    }
    current.push(tap);
  }
  if (current.length > 0)
    batches.push({ deviceId, uploadAt: uploadAt(current.at(-1)!), taps: current, resend: false });
  return batches;
}

export interface UplinkOptions {
  /** Span of taps in one batch (larger: fewer, bigger requests, e.g. for a slow embedded platform). */
  batchMinutes?: number;
}

export function createUplink(city: SimCity, options: UplinkOptions = {}): Uplink {
  const spanMs = (options.batchMinutes ?? DEFAULT_BATCH_MINUTES) * 60_000;
  const offline = new Map(
    city.offlineDevices.map((o) => [o.deviceId, { from: o.from, back: addDays(o.from, o.days) }]),
  );
  const stored = new Map<string, SimTap[]>();

  const release = (deviceId: string, at: number): TapBatch[] => {
    const taps = stored.get(deviceId) ?? [];
    stored.delete(deviceId);
    // Stored batches go up newest first: out of order for the ingest on purpose.
    return chunk(deviceId, taps, spanMs, () => at).reverse();
  };

  return {
    push(day) {
      const rng = createRng(city.seed, 'uplink', day.date);
      const dayStart = startOfShanghaiDay(day.date);
      const byDevice = new Map<string, SimTap[]>();
      for (const tap of day.taps) {
        const list = byDevice.get(tap.deviceId) ?? [];
        list.push(tap);
        byDevice.set(tap.deviceId, list);
      }
      const out: TapBatch[] = [];
      for (const [deviceId, window] of offline) {
        if (window.back === day.date) out.push(...release(deviceId, dayStart + 5.5 * 3600_000));
      }
      for (const [deviceId, taps] of byDevice) {
        const window = offline.get(deviceId);
        if (window && window.from <= day.date && day.date < window.back) {
          stored.set(deviceId, [...(stored.get(deviceId) ?? []), ...taps]);
          continue;
        }
        out.push(...chunk(deviceId, taps, spanMs, (last) => last.tappedAt + (30 + rng.int(270)) * 1000));
      }
      out.sort(
        (a, b) => a.uploadAt - b.uploadAt || (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0),
      );
      const withResends: TapBatch[] = [];
      for (const batch of out) {
        withResends.push(batch);
        if (rng.chance(RESEND_RATE))
          withResends.push({ ...batch, uploadAt: batch.uploadAt + 60_000, resend: true });
      }
      return withResends;
    },
    flush() {
      const out: TapBatch[] = [];
      for (const [deviceId, window] of offline) {
        if (stored.has(deviceId))
          out.push(...release(deviceId, startOfShanghaiDay(window.back) + 5.5 * 3600_000));
      }
      return out;
    },
  };
}
