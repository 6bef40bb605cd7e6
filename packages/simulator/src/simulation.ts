/**
 * The simulation pipeline: generate the traffic day by day, feed the oracle, hand the validators'
 * batches and the app's ratings to a sink (files, HTTP, …). Only one day is held in memory.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SimCity } from './city.model';
import { createOracle, type GroundTruth } from './ground-truth';
import { generateTraffic } from './traffic.generator';
import type { SimRating, TapBatch } from './traffic.model';
import { createUplink, type UplinkOptions } from './uplink';
import { batchBody, toRatingRecord } from './wire';

export interface TrafficSink {
  /** Batches in upload order. */
  batches(batches: TapBatch[]): Promise<void>;
  /** Ratings of the day's rides (each forwarded at its `forwardedAt`). */
  ratings(ratings: SimRating[]): Promise<void>;
}

export interface DayProgress {
  date: string;
  dayIndex: number;
  days: number;
  taps: number;
  batches: number;
  ratings: number;
}

export async function runSimulation(
  city: SimCity,
  sink: TrafficSink,
  onDay?: (p: DayProgress) => void,
  uplinkOptions: UplinkOptions = {},
): Promise<GroundTruth> {
  const oracle = createOracle(city);
  const uplink = createUplink(city, uplinkOptions);
  let dayIndex = 0;
  for (const day of generateTraffic(city)) {
    for (const tap of day.taps) oracle.add(tap);
    const batches = uplink.push(day);
    await sink.batches(batches);
    await sink.ratings(day.ratings);
    // Let timers and I/O run between days: a day at scale 1 is seconds of synchronous work.
    await new Promise<void>((resolve) => setImmediate(resolve));
    onDay?.({
      date: day.date,
      dayIndex: dayIndex++,
      days: city.days,
      taps: day.taps.length,
      batches: batches.length,
      ratings: day.ratings.length,
    });
  }
  await sink.batches(uplink.flush());
  return oracle.finish();
}

/**
 * Files sink: `taps/<device>.ndjson`, one line per POST body in upload order (resends included),
 * and `ratings.ndjson`, one `RatingRecord` per line.
 */
export async function createFilesSink(outDir: string): Promise<TrafficSink> {
  const tapsDir = join(outDir, 'taps');
  await mkdir(tapsDir, { recursive: true });
  const ratingsFile = join(outDir, 'ratings.ndjson');
  return {
    async batches(batches) {
      const byDevice = new Map<string, string[]>();
      for (const batch of batches) {
        const lines = byDevice.get(batch.deviceId) ?? [];
        lines.push(batchBody(batch));
        byDevice.set(batch.deviceId, lines);
      }
      for (const [deviceId, lines] of byDevice)
        await appendFile(join(tapsDir, `${deviceId}.ndjson`), lines.join('\n') + '\n');
    },
    async ratings(ratings) {
      if (ratings.length === 0) return;
      await appendFile(ratingsFile, ratings.map((r) => JSON.stringify(toRatingRecord(r))).join('\n') + '\n');
    },
  };
}
