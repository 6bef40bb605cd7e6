import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertQuarantinedTaps, sql, type QuarantineRow } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { commitGroup } from './group-commit';
// The migration itself, to replay it over a table that already holds duplicated receipts.
import * as dedupe from '../../../packages/db/src/migrations/20261129000300_quarantine_dedupe';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase(8);
});
afterAll(async () => {
  await db.drop();
});

const row = (deviceId: string, seq: number | null, code: string, payload: unknown, receivedAt = new Date()): QuarantineRow => ({
  deviceId,
  seq,
  receivedAt,
  code,
  message: `${code} message`,
  payload,
});

describe('quarantine identity (device, seq, content hash)', () => {
  it('migration 20261129000300 collapses duplicated receipts to the earliest and audits it', async () => {
    await dedupe.down(db.db);
    await sql`DELETE FROM quarantined_taps`.execute(db.db);
    const at = (s: number) => new Date(Date.UTC(2026, 10, 1, 0, 0, s));
    // The table as it was before the migration: plain INSERTs, no identity.
    const insertOld = async (rows: QuarantineRow[]) => {
      for (const r of rows)
        await sql`INSERT INTO quarantined_taps (device_id, seq, received_at, code, message, payload)
          VALUES (${r.deviceId}, ${r.seq}, ${r.receivedAt.toISOString()}, ${r.code}, ${r.message}, ${JSON.stringify(r.payload)}::jsonb)`.execute(db.db);
    };
    // Insertion order is not receipt order: the earliest receipt has the middle id.
    await insertOld( [row('M1', 7, 'invalid_tap', { seq: 7, a: 1, b: 2 }, at(5))]);
    await insertOld( [row('M1', 7, 'invalid_tap', { b: 2, seq: 7, a: 1 }, at(1))]); // same content, other key order
    await insertOld( [row('M1', 7, 'invalid_tap', { seq: 7, a: 1, b: 2 }, at(9))]);
    await insertOld( [row('M1', 7, 'invalid_tap', { seq: 7, a: 1, b: 3 }, at(2))]); // other content: kept
    await insertOld( [row('M1', 7, 'unknown_field', { seq: 7, a: 1, b: 2 }, at(3))]); // other code: kept
    await insertOld( [row('M1', null, 'invalid_tap', 'not a tap', at(4)), row('M1', null, 'invalid_tap', 'not a tap', at(6))]); // no seq
    await insertOld( [row('M2', 7, 'invalid_tap', { seq: 7, a: 1, b: 2 }, at(8))]); // other device: kept
    await dedupe.up(db.db);
    const left = (await sql<{ device_id: string; seq: number | null; code: string; received_at: Date }>`
      SELECT device_id, seq, code, received_at FROM quarantined_taps ORDER BY received_at`.execute(db.db)).rows;
    expect(left.map((r) => [r.device_id, r.seq, r.code, r.received_at.getUTCSeconds()])).toEqual([
      ['M1', 7, 'invalid_tap', 1],
      ['M1', 7, 'invalid_tap', 2],
      ['M1', 7, 'unknown_field', 3],
      ['M1', null, 'invalid_tap', 4],
      ['M2', 7, 'invalid_tap', 8],
    ]);
    const audit = (await sql<{ actor: string; action: string; details: { removedRows: number } }>`
      SELECT actor, action, details FROM audit_log WHERE action = 'quarantine.deduplicate'`.execute(db.db)).rows;
    expect(audit).toEqual([{ actor: 'migration', action: 'quarantine.deduplicate', details: { removedRows: 3 } }]);
    // From now on a receipt of a known bad tap adds nothing, whatever its key order or time.
    await insertQuarantinedTaps(db.db, [row('M1', 7, 'invalid_tap', { a: 1, b: 2, seq: 7 }, at(30)), row('M1', null, 'invalid_tap', 'not a tap', at(31))]);
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM quarantined_taps`.execute(db.db)).rows[0]!.n).toBe(5);
  });

  it('keeps one row per quarantined tap when groups replaying the same rejects commit at once', async () => {
    const rejects = Array.from({ length: 40 }, (_, i) => row(`P${i % 4}`, i % 3 === 0 ? null : i, i % 2 ? 'invalid_tap' : 'invalid_media', { seq: i, n: i % 7 }));
    // Each group holds the rejects in another order (reversed, rotated): lock order must not depend on it.
    const orders = [rejects, [...rejects].reverse(), [...rejects.slice(17), ...rejects.slice(0, 17)]];
    for (let round = 0; round < 3; round++) {
      // Through Kysely and as the prepared statement on the pool (what the service does on PostgreSQL).
      await Promise.all(orders.flatMap((q) => [commitGroup(db.db, [{ taps: [], quarantine: q, sanitise: (raw) => raw }]), commitGroup(db.db, [{ taps: [], quarantine: q, sanitise: (raw) => raw }], db.pool)]));
    }
    const distinct = new Set(rejects.map((r) => JSON.stringify([r.deviceId, r.seq, r.code, r.payload]))).size;
    const n = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM quarantined_taps WHERE device_id LIKE 'P%'`.execute(db.db)).rows[0]!.n;
    expect(n).toBe(distinct);
  });
});
