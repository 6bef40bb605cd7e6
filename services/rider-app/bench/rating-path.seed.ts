/** The populated database of the rating-path benchmark (rating-path.bench.ts). */
import { sql, type Database } from '@ridetally/db';
import { bindMedium, registerPerson } from '@ridetally/registry';
import { makeIdNumber, testKeyring } from '@ridetally/registry/testing';

export const QUARTER_START = Date.parse('2022-04-01T00:00:00+08:00');
export const QUARTER_DAYS = 91;
const DAY_MS = 86_400_000;

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `persons` riders, each with a transit card bound from 2022-01-01 and 2–4 rides a day over all of
 * 2022-Q2 (a second tap, a transfer, in one ride of three); returns their person ids.
 */
export async function seedRatingBench(db: Database, now: () => Date, persons: number): Promise<string[]> {
  const keyring = testKeyring();
  const deps = { db, keyring, now };
  const personIds: string[] = [];
  for (let p = 0; p < persons; p++) {
    const { personId } = await registerPerson(deps, { idNumber: makeIdNumber('141102', '19800101', p), name: '张三' });
    await bindMedium(deps, { personId, type: 'transit_card', id: `C-${p}`, kind: 'normal', validFrom: '2022-01-01' });
    personIds.push(personId);
  }
  const rand = rng(1);
  const taps: { at: Date; key: string; vehicle: string; route: string }[] = [];
  for (let p = 0; p < persons; p++) {
    for (let d = 0; d < QUARTER_DAYS; d++) {
      const rides = 2 + Math.floor(rand() * 3);
      let t = QUARTER_START + d * DAY_MS + 7 * 3600_000 + Math.floor(rand() * 3600_000);
      for (let r = 0; r < rides; r++) {
        const vehicle = `V${Math.floor(rand() * 20)}`;
        taps.push({ at: new Date(t), key: `C-${p}`, vehicle, route: `R${vehicle}` });
        // One ride in three: a second tap within the ride window (a transfer).
        if (rand() < 0.33) taps.push({ at: new Date(t + 600_000), key: `C-${p}`, vehicle: `V${Math.floor(rand() * 20)}`, route: 'R99' });
        t += 2 * 3600_000 + Math.floor(rand() * 3 * 3600_000);
      }
    }
  }
  for (let i = 0; i < taps.length; i += 5000) {
    const chunk = taps.slice(i, i + 5000);
    const at = chunk.map((c) => c.at.toISOString());
    const seqs = chunk.map((_, j) => i + j);
    await sql`
      WITH src AS (
        SELECT nextval('tap_id_seq')::bigint AS tap_id, s.* FROM unnest(${seqs}::bigint[], ${at}::timestamptz[], ${chunk.map((c) => c.key)}::text[],
          ${chunk.map((c) => c.vehicle)}::text[], ${chunk.map((c) => c.route)}::text[]) AS s(seq, tapped_at, media_key, vehicle_id, route_id)
      ), k AS (
        INSERT INTO tap_keys (device_id, seq, tap_id, tapped_at, content_hash)
        SELECT 'D-BENCH', seq, tap_id, tapped_at, '\\x00'::bytea FROM src
      )
      INSERT INTO taps (tap_id, device_id, seq, tapped_at, received_at, batch_id, vehicle_id, route_id, media_type, media_key)
      SELECT tap_id, 'D-BENCH', seq, tapped_at, tapped_at, 0, vehicle_id, route_id, 'transit_card', media_key FROM src`.execute(db);
  }
  await sql`ANALYZE`.execute(db);
  process.stdout.write(`seeded ${persons} persons, ${taps.length} taps over ${QUARTER_DAYS} days\n`);
  return personIds;
}

