/**
 * Writes the oracle's results to `ground-truth/`:
 * - `counts-<period>.csv`: `external_ref,rides,last_counted_at` for every person with ≥ 1 counted ride;
 * - `rankings-<period>.csv`: the same with the shared-tie rank (R7 default);
 * - `volume-daily.csv`: `service_date,route_id,is_city,boardings,taps` (R14);
 * - `summary.json`: totals and why rides did not count.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatShanghaiTime } from './calendar';
import type { SimCity } from './city.model';
import { csvLine } from './csv';
import { rankShared, type GroundTruth } from './ground-truth';

export async function writeGroundTruth(city: SimCity, truth: GroundTruth, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const periods = [...truth.counts.keys()].sort();
  for (const period of periods) {
    const ranked = rankShared(truth.counts.get(period)!);
    let counts = csvLine(['external_ref', 'rides', 'last_counted_at']);
    let rankings = csvLine(['external_ref', 'rank', 'rides', 'last_counted_at']);
    for (const row of [...ranked].sort((a, b) => (a.ref < b.ref ? -1 : 1)))
      counts += csvLine([row.ref, row.rides, formatShanghaiTime(row.lastCountedAt)]);
    for (const row of ranked)
      rankings += csvLine([row.ref, row.rank, row.rides, formatShanghaiTime(row.lastCountedAt)]);
    await writeFile(join(dir, `counts-${period}.csv`), counts);
    await writeFile(join(dir, `rankings-${period}.csv`), rankings);
  }
  const cityRoutes = new Set(city.routes.filter((r) => r.isCity).map((r) => r.routeId));
  let volume = csvLine(['service_date', 'route_id', 'is_city', 'boardings', 'taps']);
  for (const key of [...truth.volume.keys()].sort()) {
    const [date, routeId] = key.split('|') as [string, string];
    const v = truth.volume.get(key)!;
    volume += csvLine([date, routeId, cityRoutes.has(routeId), v.boardings, v.taps]);
  }
  await writeFile(join(dir, 'volume-daily.csv'), volume);
  const summary = {
    seed: city.seed,
    scale: city.scale,
    start: city.start,
    days: city.days,
    periods,
    persons: Object.fromEntries(periods.map((p) => [p, truth.counts.get(p)!.size])),
    ...truth.totals,
  };
  await writeFile(join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return periods;
}
