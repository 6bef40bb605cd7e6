/**
 * Full recompute of a period from raw data (issue 4 §4), through the same engine as the worker in
 * `raw` mode: nothing stored is trusted, every stretch starts at a tap that starts a ride regardless
 * of what came before. `check` compares without writing and lists the differences.
 */
import {
  findCityRouteIds,
  findPersonsActiveIn,
  findStoredRides,
  findVolumeDaily,
  findVolumeKeysIn,
  lockPersonBuckets,
  lockVolumeBuckets,
  rebuildVolumeDaily,
  refreshPersonPeriodCounts,
  sql,
  sumBoardingsByDay,
  type Database,
  type RideRow,
} from '@ridetally/db';
import { countDerivedRides, formatPeriod, parsePeriod, periodBounds, quartersOf, shanghaiDateOfMs, volumeKey, type DerivedRide } from '@ridetally/domain';
import { rederivePersons, rederiveVolume } from './rederive';
import { loadRuleBook } from './rules';

export interface RecomputeOptions {
  check?: boolean;
  onProgress?: (done: number, total: number) => void;
  personChunk?: number;
  keyChunk?: number;
}

export interface RecomputeReport {
  period: string;
  persons: number;
  taps: number;
  rides: number;
  volumeKeys: number;
  /** Human-readable differences (check mode), at most 100 kept; `differenceCount` has them all. */
  differences: string[];
  differenceCount: number;
}

const DAY = 86_400_000;

export async function recomputePeriod(db: Database, periodText: string, options: RecomputeOptions = {}): Promise<RecomputeReport> {
  const period = parsePeriod(periodText);
  const label = formatPeriod(period);
  const b = periodBounds(period);
  const start = b.start.toMillis();
  const end = b.end.toMillis();
  const quarters = quartersOf(period).map(formatPeriod);
  const labels = period.kind === 'year' ? [label, ...quarters] : [label];
  const rules = await loadRuleBook(db);
  const cityRoutes = new Set(await findCityRouteIds(db));
  const check = options.check ?? false;
  const opts = { rules, cityRoutes, mode: 'raw' as const, dryRun: check };
  const persons = await findPersonsActiveIn(db, start, end, labels);
  const keys = await findVolumeKeysIn(db, start, end);
  const personChunk = options.personChunk ?? 500;
  const keyChunk = options.keyChunk ?? 2000;
  const total = persons.length + keys.length;
  const report: RecomputeReport = { period: label, persons: persons.length, taps: 0, rides: 0, volumeKeys: keys.length, differences: [], differenceCount: 0 };
  const differ = (text: string) => {
    report.differenceCount++;
    if (report.differences.length < 100) report.differences.push(text);
  };
  let done = 0;

  for (let i = 0; i < persons.length; i += personChunk) {
    const chunk = persons.slice(i, i + personChunk);
    await db.transaction().execute(async (tx) => {
      await lockPersonBuckets(tx, chunk);
      const result = await rederivePersons(tx, chunk.map((personId) => ({ personId, fromMs: start, toMs: end - 1 })), opts);
      const inPeriod = result.rides.filter((r) => r.atMs >= start && r.atMs < end);
      report.rides += inPeriod.length;
      report.taps += inPeriod.reduce((n, r) => n + r.tapIds.length, 0);
      if (check) await compareRides(tx, chunk, start, end, labels, inPeriod, differ);
      else await refreshPersonPeriodCounts(tx, chunk.flatMap((personId) => quarters.map((quarter) => ({ personId, quarter }))));
    });
    done += chunk.length;
    options.onProgress?.(done, total);
  }

  let maxAt = end;
  for (let i = 0; i < keys.length; i += keyChunk) {
    const chunk = keys.slice(i, i + keyChunk);
    await db.transaction().execute(async (tx) => {
      await lockVolumeBuckets(tx, chunk.map((k) => volumeKey(k.mediaType, k.mediaKey, k.vehicleId)));
      const v = await rederiveVolume(tx, chunk, opts);
      maxAt = Math.max(maxAt, v.maxAtMs);
      if (check) for (const c of v.changes) if (c.previous !== c.boarding) differ(`volume: tap ${c.tapId} judged ${c.boarding ? 'boarding' : 'repeat'}, stored ${c.previous === null ? 'missing' : c.previous ? 'boarding' : 'repeat'}`);
    });
    done += chunk.length;
    options.onProgress?.(done, total);
  }
  const fromDate = shanghaiDateOfMs(start);
  const toDate = shanghaiDateOfMs(maxAt + DAY);
  if (check) {
    const [stored, sums] = await Promise.all([findVolumeDaily(db, fromDate, toDate), sumBoardingsByDay(db, fromDate, toDate)]);
    const key = (r: { serviceDate: string; routeId: string; boardings: number; taps: number }) => `${r.serviceDate} ${r.routeId} boardings=${r.boardings} taps=${r.taps}`;
    const a = new Set(stored.map(key));
    const bset = new Set(sums.map(key));
    for (const k of a) if (!bset.has(k)) differ(`volume_daily stored ${k} (recomputed differs)`);
    for (const k of bset) if (!a.has(k)) differ(`volume_daily recomputed ${k} (stored differs)`);
  } else {
    await db.transaction().execute(async (tx) => {
      await sql`SELECT pg_advisory_xact_lock(74122, 0)`.execute(tx);
      await rebuildVolumeDaily(tx, fromDate, toDate);
    });
  }
  return report;
}

async function compareRides(
  db: Parameters<typeof findStoredRides>[0],
  persons: string[],
  start: number,
  end: number,
  labels: string[],
  derived: RideRow[],
  differ: (t: string) => void,
): Promise<void> {
  const stored = await findStoredRides(db, persons, start, end);
  const fmt = (r: RideRow) =>
    `${r.tapIds.join('+')}@${new Date(r.atMs).toISOString()} ${r.vehicleId}/${r.routeId} ${r.quarter} e=${r.eligible} r=${r.rated} x=${r.excluded} c=${r.counted} ${r.rulesVersion}`;
  const s = new Map(stored.map((r) => [`${r.personId}:${r.firstTapId}`, fmt(r)]));
  const d = new Map(derived.map((r) => [`${r.personId}:${r.firstTapId}`, fmt(r)]));
  for (const [k, v] of d) if (s.get(k) !== v) differ(`ride ${k}: recomputed ${v}, stored ${s.get(k) ?? 'missing'}`);
  for (const [k, v] of s) if (!d.has(k)) differ(`ride ${k}: stored ${v}, recomputed missing`);
  const { rows } = await sql<{ person_id: string; period: string; rides: number; last: number | null }>`
    SELECT person_id, period, rides, (extract(epoch FROM last_counted_at) * 1000)::float8 AS last
    FROM person_period_counts WHERE person_id = ANY(${persons}::uuid[]) AND period = ANY(${labels}::text[])`.execute(db);
  const storedCounts = new Map(rows.map((r) => [`${r.person_id}:${r.period}`, `${r.rides}/${r.last ?? '-'}`]));
  const byPerson = new Map<string, DerivedRide[]>();
  for (const r of derived) (byPerson.get(r.personId) ?? byPerson.set(r.personId, []).get(r.personId)!).push({ ...r, year: r.quarter.slice(0, 4) });
  for (const [personId, rides] of byPerson) {
    for (const label of labels) {
      const has = rides.some((r) => r.quarter === label || r.year === label);
      if (!has) continue;
      const c = countDerivedRides(rides, label);
      const want = `${c.rides}/${c.lastCountedAtMs ?? '-'}`;
      const got = storedCounts.get(`${personId}:${label}`);
      storedCounts.delete(`${personId}:${label}`);
      if (got !== want) differ(`count ${personId} ${label}: recomputed ${want}, stored ${got ?? 'missing'}`);
    }
  }
  for (const [k, v] of storedCounts) differ(`count ${k}: stored ${v}, recomputed none`);
}
