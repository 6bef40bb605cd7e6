/**
 * Ingest during a master-key rotation window (new key deployed with the previous one), against real
 * PostgreSQL: a validator resending ID-card taps stored under the old key gets them counted as
 * duplicates, before and after `keys rotate` re-keys their holders; the same (device, seq) with other
 * content is still a seq_conflict.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { generateMasterKey, keyringFromEnv, type Keyring } from '@ridetally/keyring';
import { bindMedium, registerPerson, rotateKeys } from '@ridetally/registry';
import { createMetricsRegistry } from '@ridetally/telemetry';
import { createIngestApp } from './app';
import { addTestDevice, createCapturingLogger, listen, makeNationalId, makeTap, postTaps } from './testing/ingest-test-kit';

const OLD = generateMasterKey();
const NEW = generateMasterKey();
const oldKr = keyringFromEnv(OLD);
const windowKr = keyringFromEnv(NEW, OLD);
const newKr = keyringFromEnv(NEW);
const ID_A = makeNationalId('14110219800101001');
const ID_B = makeNationalId('14110219850505002');
// Nobody registers C: its taps are re-keyed from their own ciphertext.
const ID_C = makeNationalId('14110219900909003');

let db: TestDatabase;
let secret: string;
const { logger } = createCapturingLogger('warn');
const now = () => new Date();

beforeAll(async () => {
  db = await createTestDatabase();
  secret = await addTestDevice(db.db, oldKr, 'D1');
});
afterAll(async () => {
  await db.drop();
});

/** Runs `fn` against an ingest app holding `keyring`, as a process deployed with those keys would. */
async function withIngest<T>(keyring: Keyring, fn: (post: (taps: unknown[]) => Promise<Record<string, unknown>>) => Promise<T>): Promise<T> {
  const ingest = createIngestApp({
    db: db.db,
    keyring,
    logger,
    registry: createMetricsRegistry('tap-ingest-test', false),
    now: () => Date.now(),
    config: { deviceCacheTtlMs: 1000, deviceRatePerS: 1000, lastSeenIntervalMs: 60_000 },
  });
  const server = await listen(ingest.app);
  try {
    return await fn(async (taps) => {
      const res = await postTaps(server.url, { deviceId: 'D1', secret, body: JSON.stringify({ taps }) });
      expect(res.status).toBe(200);
      return res.json;
    });
  } finally {
    await server.close();
    await ingest.close();
  }
}

async function count(table: 'taps' | 'quarantined_taps'): Promise<number> {
  return (await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)}`.execute(db.db)).rows[0]!.n;
}

async function mediaKeyOf(seq: number): Promise<string> {
  const { rows } = await sql<{ media_key: string }>`SELECT media_key FROM taps WHERE device_id = 'D1' AND seq = ${seq}`.execute(db.db);
  return rows[0]!.media_key;
}

const idTap = (seq: number, id: string, stopId = 'S12') => makeTap(seq, { stopId, media: { type: 'id_card', id } });
const batch = [idTap(1, ID_A), idTap(2, ID_B), idTap(3, ID_C), makeTap(4)];
// Same (device, seq) as seq 2, another stop: a different tap (a quarantined payload is kept once).
const conflicting = (stopId: string) => idTap(2, ID_B, stopId);

describe('ingest during a master-key rotation window', () => {
  it('answers a resend of an ID-card tap as a duplicate before and after its holder is re-keyed, and a different tap as seq_conflict', async () => {
    // Before the rotation: persons, bindings and taps under the old key.
    for (const [id, name] of [
      [ID_A, '李四'],
      [ID_B, '王五'],
    ] as const) {
      const p = await registerPerson({ db: db.db, keyring: oldKr, now }, { idNumber: id, name });
      await bindMedium({ db: db.db, keyring: oldKr, now }, { personId: p.personId, type: 'id_card', id: 'self', validFrom: '2022-04-01' });
    }
    await withIngest(oldKr, async (post) => {
      expect(await post(batch)).toMatchObject({ accepted: 4, duplicates: 0, rejected: [] });
    });
    expect(await mediaKeyOf(1)).toBe(oldKr.hashIdNumber(ID_A));

    await withIngest(windowKr, async (post) => {
      // The window, nobody re-keyed yet: the validator did not hear the first answer and resends.
      expect(await post(batch)).toMatchObject({ accepted: 0, duplicates: 4, rejected: [] });
      expect(await count('quarantined_taps')).toBe(0);
      expect(await post([conflicting('S13')])).toMatchObject({ accepted: 0, duplicates: 0, rejected: [{ seq: 2, code: 'seq_conflict' }] });
      expect(await count('quarantined_taps')).toBe(1);

      // keys rotate re-keys the holders (and C's taps); the previous key is still set.
      const report = await rotateKeys({ db: db.db, keyring: windowKr, now });
      expect(report.conflicts).toEqual([]);
      expect(report.changed).toMatchObject({ persons: 2, idCardTaps: 3 });
      for (const [seq, id] of [
        [1, ID_A],
        [2, ID_B],
        [3, ID_C],
      ] as const)
        expect(await mediaKeyOf(seq)).toBe(newKr.hashIdNumber(id));

      expect(await post(batch)).toMatchObject({ accepted: 0, duplicates: 4, rejected: [] });
      expect(await post([conflicting('S14'), idTap(5, ID_A)])).toMatchObject({ accepted: 1, duplicates: 0, rejected: [{ seq: 2, code: 'seq_conflict' }] });
      expect(await count('quarantined_taps')).toBe(2);
    });

    // The previous key removed: the re-keyed taps are still recognised.
    await withIngest(newKr, async (post) => {
      expect(await post([...batch, idTap(5, ID_A)])).toMatchObject({ accepted: 0, duplicates: 5, rejected: [] });
    });
    expect(await count('taps')).toBe(5);
    expect(await count('quarantined_taps')).toBe(2);
  });
});
