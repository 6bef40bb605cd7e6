/**
 * R14 in the full recompute against a plain reference, on worlds made for its hash slices (one
 * ordered stream of each slice's taps, planned key by key) and the engine fallback: chains of taps less than 120 s apart lasting
 * longer than 120 s, runs crossing the period's start and end at Shanghai midnight, runs reaching the
 * loaded window's lower bound (one day before the period), equal instants, keys with taps only
 * before the period; tap ids close together (the stored judgements looked up in a table by id) and a
 * billion apart (joined in PostgreSQL). Every tap of the period must get the reference judgement, the
 * day sums must be the reference's, and `--check` must then find nothing; a wrong or missing stored
 * judgement must be reported, and repaired by the next recompute.
 */
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { recomputePeriod } from './recompute';
import { insertRoute, insertTapBatch, truncateAll, type NewTap } from './testing/fixtures';

const S = Date.parse('2023-01-01T00:00:00+08:00');
const E = Date.parse('2024-01-01T00:00:00+08:00');
const DAY = 86_400_000;
/** Chain starts: around the period's start, the loaded window's start (one day before), inside, around the end. */
const ANCHORS = [
  S - DAY - 300_000,
  S - DAY - 60_000,
  S - 400_000,
  S - 60_000,
  S + 5 * DAY,
  E - 200_000,
  E - 30_000,
  E + DAY - 100_000,
];

const chainArb = fc.record({
  anchor: fc.integer({ min: 0, max: ANCHORS.length - 1 }),
  offsetS: fc.integer({ min: 0, max: 400 }),
  gapsS: fc.array(fc.oneof(fc.integer({ min: 0, max: 130 }), fc.constantFrom(0, 119, 120, 121)), {
    maxLength: 8,
  }),
  // Several media: keys with a single tap in the loaded window (the recompute's shortcut) are common.
  media: fc.constantFrom('m1', 'm2', 'm3', 'm4', 'm5', 'm6'),
  vehicle: fc.constantFrom('V1', 'V2'),
  route: fc.constantFrom('R1', 'R2'),
});

interface Tap {
  id: number;
  at: number;
  media: string;
  vehicle: string;
  route: string;
}

function reference(taps: readonly Tap[]): Map<number, boolean> {
  const byKey = new Map<string, Tap[]>();
  for (const t of taps)
    byKey.set(`${t.media}|${t.vehicle}`, [...(byKey.get(`${t.media}|${t.vehicle}`) ?? []), t]);
  const out = new Map<number, boolean>();
  for (const list of byKey.values()) {
    list.sort((a, b) => a.at - b.at || a.id - b.id);
    let anchor = -Infinity;
    for (const t of list) {
      const boarding = t.at - anchor >= 120_000;
      if (boarding) anchor = t.at;
      out.set(t.id, boarding);
    }
  }
  return out;
}

const shDate = (ms: number) => DateTime.fromMillis(ms, { zone: 'Asia/Shanghai' }).toISODate()!;

describe('recompute: R14 by hash slices = reference', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t.drop());

  it('leaves alone a lone tap just inside the loaded window whose group began before it', async () => {
    // The recompute loads a day either side of the period. A key's only loaded tap, 50 s after that
    // day's start, follows a tap 100 s earlier (outside the load): it is a repeat, which the loaded
    // taps alone cannot tell. It must not be judged from them (it lies outside the period anyway).
    await truncateAll(t.db);
    await insertRoute(t.db, 'R1', true);
    const tap = (at: number, media: string): NewTap => ({
      at: new Date(at),
      vehicleId: 'V1',
      routeId: 'R1',
      mediaType: 'transit_card',
      mediaKey: media,
    });
    const L = S - DAY;
    const { tapIds } = await insertTapBatch(t.db, [
      tap(L - 50_000, 'lone'),
      tap(L + 50_000, 'lone'),
      tap(S + 10_000, 'other'),
    ]);
    await recomputePeriod(t.db, '2023');
    const { rows } = await sql<{
      tap_id: number;
      boarding: boolean;
    }>`SELECT tap_id, boarding FROM tap_boardings ORDER BY tap_id`.execute(t.db);
    const stored = new Map(rows.map((r) => [Number(r.tap_id), r.boarding]));
    expect(stored.get(tapIds[1]!) ?? 'not judged').not.toBe(true);
    expect(stored.get(tapIds[2]!)).toBe(true);
    expect((await recomputePeriod(t.db, '2023', { check: true })).differences).toEqual([]);
  });

  it('judges every tap of the period as the reference does', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(chainArb, { minLength: 1, maxLength: 12 }),
        fc.nat(),
        fc.boolean(),
        async (chains, pick, sparse) => {
          await truncateAll(t.db);
          await insertRoute(t.db, 'R1', true);
          await insertRoute(t.db, 'R2', true);
          const newTaps: NewTap[] = [];
          for (const c of chains) {
            let at = ANCHORS[c.anchor]! + c.offsetS * 1000;
            for (const gap of [0, ...c.gapsS]) {
              at += gap * 1000;
              newTaps.push({
                at: new Date(at),
                vehicleId: c.vehicle,
                routeId: c.route,
                mediaType: 'transit_card',
                mediaKey: c.media,
              });
            }
          }
          // Sparse: tap ids a billion apart (the sequence jumped), too far for the recompute's table of
          // stored judgements by id: the stream joins them in PostgreSQL instead.
          const half = sparse ? newTaps.length >> 1 : newTaps.length;
          const { tapIds } = await insertTapBatch(t.db, newTaps.slice(0, half));
          if (half < newTaps.length) {
            // From the sequence's last value, beyond the ids cached by every connection of the pool
            // (a session's own nextval may lie behind them: the sequence caches 100 per session).
            await sql`SELECT setval('tap_id_seq', (SELECT last_value FROM tap_id_seq) + 1000000000)`.execute(
              t.db,
            );
            tapIds.push(...(await insertTapBatch(t.db, newTaps.slice(half))).tapIds);
          }
          const taps: Tap[] = newTaps.map((n, i) => ({
            id: tapIds[i]!,
            at: (n.at as Date).getTime(),
            media: n.mediaKey,
            vehicle: n.vehicleId,
            route: n.routeId,
          }));
          const ref = reference(taps);
          const inPeriod = taps.filter((x) => x.at >= S && x.at < E);

          // one slice and several slices give the same judgements
          await recomputePeriod(t.db, '2023', { volumeSlices: 1 + (pick % 3) });
          const { rows } = await sql<{
            tap_id: number;
            boarding: boolean;
          }>`SELECT tap_id, boarding FROM tap_boardings`.execute(t.db);
          const stored = new Map(rows.map((r) => [Number(r.tap_id), r.boarding]));
          for (const x of inPeriod) expect([x.id, stored.get(x.id)]).toEqual([x.id, ref.get(x.id)]);
          for (const [id, b] of stored) expect([id, b]).toEqual([id, ref.get(id)]);

          const sums = new Map<string, string>();
          const acc = new Map<string, { b: number; n: number }>();
          for (const x of inPeriod) {
            const k = `${shDate(x.at)}|${x.route}`;
            const s = acc.get(k) ?? { b: 0, n: 0 };
            s.n++;
            if (ref.get(x.id)) s.b++;
            acc.set(k, s);
          }
          for (const [k, v] of acc) sums.set(k, `${v.b}/${v.n}`);
          const vol = await sql<{ d: string; route_id: string; boardings: number; taps: number }>`
          SELECT service_date::text AS d, route_id, boardings, taps FROM volume_daily
          WHERE service_date >= '2023-01-01' AND service_date < '2024-01-01' AND taps > 0`.execute(t.db);
          expect(new Map(vol.rows.map((r) => [`${r.d}|${r.route_id}`, `${r.boardings}/${r.taps}`]))).toEqual(
            sums,
          );

          expect((await recomputePeriod(t.db, '2023', { check: true })).differences).toEqual([]);
          if (inPeriod.length > 0) {
            // a wrong stored judgement is found, and the next recompute repairs it
            const victim = inPeriod[pick % inPeriod.length]!;
            await sql`UPDATE tap_boardings SET boarding = NOT boarding WHERE tap_id = ${victim.id}`.execute(
              t.db,
            );
            const check = await recomputePeriod(t.db, '2023', { check: true });
            expect(check.differences.some((d) => d.includes(`tap ${victim.id} `))).toBe(true);
            await recomputePeriod(t.db, '2023');
            expect((await recomputePeriod(t.db, '2023', { check: true })).differences).toEqual([]);

            // a missing judgement is found (as missing), and the next recompute writes it
            await sql`DELETE FROM tap_boardings WHERE tap_id = ${victim.id}`.execute(t.db);
            const missing = await recomputePeriod(t.db, '2023', { check: true });
            expect(missing.differences).toContainEqual(
              `volume: tap ${victim.id} judged ${ref.get(victim.id) ? 'boarding' : 'repeat'}, stored missing`,
            );
            await recomputePeriod(t.db, '2023');
            expect((await recomputePeriod(t.db, '2023', { check: true })).differences).toEqual([]);

            // wrong day sums (a row off by one, a row that should not be there) are found and repaired,
            // with the stream's sums (one slice) as with a sum of the stored judgements (several)
            const slices = 1 + (pick % 3);
            const some = vol.rows[pick % vol.rows.length]!;
            await sql`UPDATE volume_daily SET boardings = boardings + 1 WHERE service_date = ${some.d}::date AND route_id = ${some.route_id}`.execute(
              t.db,
            );
            await sql`INSERT INTO volume_daily (service_date, route_id, boardings, taps) VALUES ('2023-06-15', 'R9', 1, 1)`.execute(
              t.db,
            );
            const found = await recomputePeriod(t.db, '2023', { check: true, volumeSlices: slices });
            expect(found.differences.filter((d) => d.startsWith('volume_daily stored ')).length).toBe(2);
            await recomputePeriod(t.db, '2023', { volumeSlices: slices });
            const again = await sql<{ d: string; route_id: string; boardings: number; taps: number }>`
            SELECT service_date::text AS d, route_id, boardings, taps FROM volume_daily
            WHERE service_date >= '2023-01-01' AND service_date < '2024-01-01' AND taps > 0`.execute(t.db);
            expect(
              new Map(again.rows.map((r) => [`${r.d}|${r.route_id}`, `${r.boardings}/${r.taps}`])),
            ).toEqual(sums);
          }
        },
      ),
      { numRuns: Number(process.env.AGG_PROPERTY_RUNS ?? 10) },
    );
  }, 300_000);
});
