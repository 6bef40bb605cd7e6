import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from './testing/index';
import { openDatabase } from './client';
import { migrateToLatest } from './migrate';

describe('schema', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t.drop());

  it('creates monthly tap partitions in Shanghai months from the programme start', async () => {
    const { rows } = await sql<{ name: string; bound: string }>`
      SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'taps'::regclass ORDER BY c.relname`.execute(t.db);
    const first = rows.find((r) => r.name === 'taps_2022_04');
    expect(first?.bound).toContain('2022-03-31 16:00:00+00');
    expect(rows.some((r) => r.name === 'taps_default')).toBe(true);
  });

  it('routes a tap to its month and reads int8 as number and date as text', async () => {
    await t.db
      .insertInto('taps')
      .values({
        tap_id: 1,
        device_id: 'D1',
        seq: 1,
        tapped_at: '2022-04-30T23:59:59+08:00',
        received_at: new Date(),
        batch_id: 1,
        vehicle_id: 'V1',
        route_id: 'R1',
        stop_id: null,
        media_type: 'qr',
        media_kind: null,
        media_key: 'acct-1',
        media_ciphertext: null,
      })
      .execute();
    const { rows } = await sql<{ tableoid: string; tap_id: number; d: string }>`
      SELECT tableoid::regclass::text AS tableoid, tap_id, (tapped_at AT TIME ZONE 'Asia/Shanghai')::date AS d FROM taps`.execute(t.db);
    expect(rows).toEqual([{ tableoid: 'taps_2022_04', tap_id: 1, d: '2022-04-30' }]);
  });

  it('refuses overlapping bindings of one medium', async () => {
    const p = await t.db
      .insertInto('persons')
      .values({ id_hash: 'h', id_ciphertext: Buffer.from('x'), name_ciphertext: Buffer.from('x'), name_masked: '张*' })
      .returning('person_id')
      .executeTakeFirstOrThrow();
    const bind = (valid: string) =>
      t.db
        .insertInto('media_bindings')
        .values({ person_id: p.person_id, media_type: 'transit_card', media_kind: 'normal', media_key: 'C1', valid })
        .execute();
    await bind('[2022-04-01T00:00:00+08:00,2022-06-01T00:00:00+08:00)');
    await bind('[2022-06-01T00:00:00+08:00,)');
    await expect(bind('[2022-05-01T00:00:00+08:00,2022-05-02T00:00:00+08:00)')).rejects.toThrow(/exclusion|conflicting/);
  });

  it('keeps the audit log append-only', async () => {
    await t.db.insertInto('audit_log').values({ actor: 'a', action: 'x', subject: null, reason: null, prev_hash: '0', hash: '1' }).execute();
    await expect(sql`UPDATE audit_log SET actor = 'b'`.execute(t.db)).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM audit_log`.execute(t.db)).rejects.toThrow(/append-only/);
  });
});

describe('embedded PGlite', () => {
  it('runs the same migrations and type parsing', async () => {
    const h = await openDatabase({});
    try {
      await migrateToLatest(h.db);
      const { rows } = await sql<{ n: number; d: string }>`SELECT 9007199254740::int8 AS n, DATE '2022-04-01' AS d`.execute(h.db);
      expect(rows[0]).toEqual({ n: 9007199254740, d: '2022-04-01' });
      const parts = await sql<{ c: number }>`SELECT count(*)::int AS c FROM pg_inherits WHERE inhparent = 'taps'::regclass`.execute(h.db);
      expect(parts.rows[0]!.c).toBeGreaterThan(12);
    } finally {
      await h.close();
    }
  });
});
