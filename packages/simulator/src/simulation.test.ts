import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CARD_KINDS, ECARD_ISSUERS, EMPLOYER_TYPES, isValidNationalId } from '@ridetally/domain';
import { addDays, dayKindOf } from './calendar';
import { writeCityFiles } from './city.files';
import { generateCity, meanBoardingsPerRider, PLAN_BOARDINGS_PER_DAY } from './city.generator';
import { parseCsv } from './csv';
import { writeGroundTruth } from './ground-truth.files';
import { createFilesSink, runSimulation, type TrafficSink } from './simulation';
import { generateTraffic } from './traffic.generator';
import type { TapBatch } from './traffic.model';
import { createUplink } from './uplink';
import { batchBody } from './wire';

function digestTraffic(seed: number, days: number): string {
  const city = generateCity({ seed, scale: 0.005, start: '2022-04-01', days });
  const hash = createHash('sha256').update(JSON.stringify(city));
  const uplink = createUplink(city);
  for (const day of generateTraffic(city)) for (const b of uplink.push(day)) hash.update(batchBody(b));
  for (const b of uplink.flush()) hash.update(batchBody(b));
  return hash.digest('hex');
}

const nullSink: TrafficSink = { batches: () => Promise.resolve(), ratings: () => Promise.resolve() };

describe('city and traffic generation', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    expect(digestTraffic(7, 5)).toBe(digestTraffic(7, 5));
    expect(digestTraffic(7, 5)).not.toBe(digestTraffic(8, 5));
  });

  it('has every kind of employer, medium, route and roster case', () => {
    const city = generateCity({ seed: 3, scale: 0.02, start: '2022-04-01', days: 90 });
    expect(new Set(city.employers.map((e) => e.type))).toEqual(new Set(EMPLOYER_TYPES));
    expect(city.employers.some((e) => !e.cityArea)).toBe(true);
    expect(new Set(city.routes.map((r) => r.kind))).toEqual(new Set(['city', 'airport', 'intercity']));
    const media = city.persons.flatMap((p) => p.media);
    expect(new Set(media.filter((m) => m.type === 'transit_card').map((m) => m.kind))).toEqual(
      new Set(CARD_KINDS),
    );
    expect(new Set(media.filter((m) => m.type === 'ecard').map((m) => m.kind))).toEqual(
      new Set(ECARD_ISSUERS),
    );
    expect(media.some((m) => m.type === 'qr') && media.some((m) => m.type === 'id_card')).toBe(true);
    expect(new Set(media.map((m) => `${m.type}:${m.id}`)).size).toBe(media.length);
    expect(city.persons.every((p) => isValidNationalId(p.idNumber))).toBe(true);
    expect(new Set(city.persons.map((p) => p.idNumber)).size).toBe(city.persons.length);
    expect(city.persons.some((p) => p.lostCard)).toBe(true);
    expect(city.persons.some((p) => p.twoCards)).toBe(true);
    const end = addDays(city.start, city.days - 1);
    const employments = city.persons.map((p) => p.employments);
    expect(employments.some((e) => e.length === 2)).toBe(true); // changed employer
    expect(employments.some((e) => e.length === 1 && e[0]!.from > city.start)).toBe(true); // joined
    expect(
      employments.some(
        (e) => e.length === 1 && e[0]!.to !== null && e[0]!.to >= city.start && e[0]!.to < end,
      ),
    ).toBe(true); // left
    expect(city.persons.some((p) => !p.registered && p.pattern !== 'none')).toBe(true); // anonymous riders
    expect(city.offlineDevices.length).toBeGreaterThan(0);
  });

  it('is calibrated to the plan: ~98,500 boardings a day at scale 1', async () => {
    // Two ordinary weeks (no holidays): the mean is the plan's figure within 10 %.
    const start = '2022-05-09';
    const city = generateCity({ seed: 5, scale: 0.05, start, days: 14 });
    expect(
      Array.from({ length: 14 }, (_, i) => dayKindOf(addDays(start, i))).filter((k) => k === 'holiday'),
    ).toEqual([]);
    const truth = await runSimulation(city, nullSink);
    const perDay = truth.totals.boardings / 14 / 0.05;
    expect(PLAN_BOARDINGS_PER_DAY).toBeCloseTo(98_496, 0);
    expect(meanBoardingsPerRider()).toBeGreaterThan(1);
    expect(Math.abs(perDay - PLAN_BOARDINGS_PER_DAY) / PLAN_BOARDINGS_PER_DAY).toBeLessThan(0.1);
  });

  it('produces double taps, transfers, late uploads out of order, resends and every rating case', async () => {
    const city = generateCity({ seed: 11, scale: 0.02, start: '2022-04-01', days: 30 });
    const uploads: TapBatch[] = [];
    let ratings = 0;
    let exactly7 = 0;
    let late = 0;
    let after = 0;
    let lateForward = 0;
    const sink: TrafficSink = {
      batches: (b) => {
        uploads.push(...b);
        return Promise.resolve();
      },
      ratings: (rs) => {
        for (const r of rs) {
          ratings++;
          const delay = r.ratedAt - r.tap.tappedAt;
          if (delay === 7 * 86_400_000) exactly7++;
          else if (delay > 7 * 86_400_000) after++;
          else if (delay > 86_400_000) late++;
          if (r.forwardedAt - r.ratedAt > 86_400_000) lateForward++;
        }
        return Promise.resolve();
      },
    };
    const truth = await runSimulation(city, sink);
    expect(truth.totals.boardings).toBeLessThan(truth.totals.taps); // double taps
    expect(truth.totals.unboundTaps).toBeGreaterThan(0);
    expect(truth.totals.rides.not_city_route).toBeGreaterThan(0);
    expect(truth.totals.rides.not_eligible).toBeGreaterThan(0);
    expect(truth.totals.rides.not_rated).toBeGreaterThan(0);
    expect(truth.totals.rides.counted).toBeGreaterThan(0);
    expect([ratings, exactly7, late, after, lateForward].every((n) => n > 0)).toBe(true);
    expect(uploads.some((b) => b.resend)).toBe(true);
    // Every tap is uploaded (resends aside) exactly once, and some device's seqs go up out of order.
    const seen = new Set<string>();
    let outOfOrder = false;
    const lastSeq = new Map<string, number>();
    for (const b of uploads.filter((u) => !u.resend)) {
      for (const t of b.taps) {
        const key = `${t.deviceId}/${t.seq}`;
        expect(seen.has(key)).toBe(false);
        seen.add(key);
        if (t.seq < (lastSeq.get(t.deviceId) ?? 0)) outOfOrder = true;
        lastSeq.set(t.deviceId, t.seq);
      }
      expect(b.taps.length).toBeLessThanOrEqual(500);
    }
    expect(seen.size).toBe(truth.totals.taps);
    expect(outOfOrder).toBe(true);
  });

  it('writes the city, traffic and ground truth files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-files-'));
    try {
      const city = generateCity({ seed: 2, scale: 0.005, start: '2022-06-25', days: 10 });
      await writeCityFiles(city, join(dir, 'city'));
      const truth = await runSimulation(city, await createFilesSink(dir));
      const periods = await writeGroundTruth(city, truth, join(dir, 'ground-truth'));
      expect(periods).toEqual(['2022', '2022-Q2', '2022-Q3']);
      const employees = parseCsv(await readFile(join(dir, 'city/employees.csv'), 'utf8'));
      expect(Object.keys(employees[0]!)).toEqual([
        'id_number',
        'name',
        'employer_code',
        'in_service_from',
        'in_service_to',
      ]);
      const media = parseCsv(await readFile(join(dir, 'city/media.csv'), 'utf8'));
      expect(Object.keys(media[0]!)).toEqual([
        'id_number',
        'media_type',
        'media_kind',
        'media_id',
        'valid_from',
        'valid_to',
      ]);
      const q2 = parseCsv(await readFile(join(dir, 'ground-truth/counts-2022-Q2.csv'), 'utf8'));
      const q3 = parseCsv(await readFile(join(dir, 'ground-truth/counts-2022-Q3.csv'), 'utf8'));
      const year = parseCsv(await readFile(join(dir, 'ground-truth/counts-2022.csv'), 'utf8'));
      const sum = (rows: Record<string, string>[]) => rows.reduce((s, r) => s + Number(r.rides), 0);
      expect(sum(year)).toBe(sum(q2) + sum(q3));
      expect(sum(year)).toBe(truth.totals.rides.counted);
      const tapFiles = await readdir(join(dir, 'taps'));
      let lines = 0;
      for (const f of tapFiles) {
        for (const line of (await readFile(join(dir, 'taps', f), 'utf8')).trim().split('\n')) {
          const body = JSON.parse(line) as { taps: unknown[] };
          lines += body.taps.length;
        }
      }
      expect(lines).toBeGreaterThanOrEqual(truth.totals.taps);
      expect(await readdir(join(dir, 'city/gtfs'))).toContain('routes.txt');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('streams: memory stays bounded over a few hundred thousand taps', async () => {
    // Scale 0.5 for 6 days (~300,000 taps): after a full GC, the heap after the last day is not far
    // above the heap after the first (one day is held at a time; the oracle keeps per-person and
    // per-medium state only). A day's taps alone are ~20 MB at this scale, so holding them all would fail this.
    setFlagsFromString('--expose_gc');
    const gc = runInNewContext('gc') as () => void;
    const city = generateCity({ seed: 9, scale: 0.5, start: '2022-05-09', days: 6 });
    const heaps: number[] = [];
    const truth = await runSimulation(city, nullSink, () => {
      gc();
      heaps.push(process.memoryUsage().heapUsed);
    });
    expect(truth.totals.taps).toBeGreaterThan(250_000);
    expect(heaps[4]! - heaps[0]!).toBeLessThan(25 * 1024 * 1024);
  }, 120_000);
});
