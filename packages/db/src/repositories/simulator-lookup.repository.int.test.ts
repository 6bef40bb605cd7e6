import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../testing/index';
import { findTapIdsByDeviceSeq, insertRatingsBulk } from './simulator-lookup.repository';

describe('simulator lookups (tap ids by device and seq, bulk ratings)', () => {
  let t: TestDatabase;
  let personId: string;
  beforeAll(async () => {
    t = await createTestDatabase();
    await sql`
      INSERT INTO tap_keys (device_id, seq, tap_id, tapped_at, content_hash) VALUES
        ('D1', 1, 11, '2022-05-09T07:41:02+08:00', '\\x00'),
        ('D1', 2, 12, '2022-05-09T07:41:05+08:00', '\\x00'),
        ('D2', 1, 21, '2022-05-09T08:00:00+08:00', '\\x00')`.execute(t.db);
    personId = (
      await t.db
        .insertInto('persons')
        .values({
          id_hash: 'h',
          id_ciphertext: Buffer.from('x'),
          name_ciphertext: Buffer.from('x'),
          name_masked: '张*',
        })
        .returning('person_id')
        .executeTakeFirstOrThrow()
    ).person_id;
  });
  afterAll(() => t.drop());

  it('answers the stored keys only, with their tap ids', async () => {
    const rows = await findTapIdsByDeviceSeq(t.db, [
      { deviceId: 'D1', seq: 2 },
      { deviceId: 'D2', seq: 1 },
      { deviceId: 'D2', seq: 2 },
      { deviceId: 'D3', seq: 1 },
    ]);
    expect(rows.sort((a, b) => a.tap_id - b.tap_id)).toEqual([
      { device_id: 'D1', seq: 2, tap_id: 12 },
      { device_id: 'D2', seq: 1, tap_id: 21 },
    ]);
    expect(await findTapIdsByDeviceSeq(t.db, [])).toEqual([]);
  });

  it('bulk-loads ratings on their taps, skipping unknown taps and a second load of the same rating', async () => {
    const ratings = [
      { personId, deviceId: 'D1', seq: 1, score: 5, ratedAt: '2022-05-09T09:00:00+08:00' },
      { personId, deviceId: 'D2', seq: 1, score: 3, ratedAt: '2022-05-10T09:00:00+08:00' },
      { personId, deviceId: 'D9', seq: 1, score: 4, ratedAt: '2022-05-10T09:00:00+08:00' },
    ];
    expect(await insertRatingsBulk(t.db, ratings, 'bulk-test')).toEqual({ inserted: 2, missingTap: 1 });
    expect(await insertRatingsBulk(t.db, ratings, 'bulk-test')).toEqual({ inserted: 0, missingTap: 1 });
    const { rows } = await sql<{
      tap_id: number;
      ride_first_tap_id: number;
      score: number;
      rated: string;
      client_id: string;
    }>`
      SELECT tap_id, ride_first_tap_id, score, to_char(rated_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS rated, client_id
      FROM ratings ORDER BY tap_id`.execute(t.db);
    expect(rows).toEqual([
      { tap_id: 11, ride_first_tap_id: 11, score: 5, rated: '2022-05-09 09:00', client_id: 'bulk-test' },
      { tap_id: 21, ride_first_tap_id: 21, score: 3, rated: '2022-05-10 09:00', client_id: 'bulk-test' },
    ]);
  });
});
