/**
 * The embedded database drops its empty monthly tap partitions, keeps every tap, and taps of a
 * month without a partition land in DEFAULT (PGlite, as `pnpm start` opens it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest, openDatabase, sql, type DatabaseHandle } from '@ridetally/db';
import { dropEmptyTapPartitions } from './embedded-partitions';

async function partitions(h: DatabaseHandle): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'taps'::regclass ORDER BY 1`.execute(h.db);
  return rows.map((r) => r.name);
}

async function insertTap(h: DatabaseHandle, tapId: number, tappedAt: string): Promise<void> {
  await sql`
    INSERT INTO taps (tap_id, device_id, seq, tapped_at, received_at, batch_id, vehicle_id, route_id, media_type, media_key)
    VALUES (${tapId}, 'D1', ${tapId}, ${tappedAt}::timestamptz, now(), 1, 'V1', 'R1', 'qr', 'q1')`.execute(h.db);
}

describe('dropEmptyTapPartitions (embedded)', () => {
  let h: DatabaseHandle;
  beforeAll(async () => {
    h = await openDatabase({ dataDir: undefined });
    await migrateToLatest(h.db);
  }, 120_000);
  afterAll(() => h?.close());

  it('drops only empty month partitions; taps stay where they are, new months go to DEFAULT', async () => {
    const before = await partitions(h);
    expect(before.length).toBeGreaterThan(50);
    expect(before).toContain('taps_2022_05');
    await insertTap(h, 1, '2022-05-10T08:00:00+08:00');
    await insertTap(h, 2, '2022-05-31T23:59:59+08:00');

    const dropped = await dropEmptyTapPartitions(h.db);
    expect(dropped).toHaveLength(before.length - 2);
    expect(dropped).not.toContain('taps_2022_05');
    expect(await partitions(h)).toEqual(['taps_2022_05', 'taps_default']);
    expect(await dropEmptyTapPartitions(h.db)).toEqual([]);

    await insertTap(h, 3, '2022-06-01T00:00:00+08:00');
    const { rows } = await sql<{ part: string; tap_id: number }>`
      SELECT tableoid::regclass::text AS part, tap_id FROM taps ORDER BY tap_id`.execute(h.db);
    expect(rows).toEqual([
      { part: 'taps_2022_05', tap_id: 1 },
      { part: 'taps_2022_05', tap_id: 2 },
      { part: 'taps_default', tap_id: 3 },
    ]);
  }, 60_000);
});
