/**
 * The embedded mode (PGlite, SPEC §6) runs the same code: migrations, login, a snapshot with its
 * advisory locks and hash, the workflow and the audit chain.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest, openDatabase, verifyAuditChain, type DatabaseHandle } from '@ridetally/db';
import { createKeyring } from '@ridetally/keyring';
import { createLogger } from '@ridetally/telemetry';
import { createStaffUser } from './auth/auth.service';
import { toContext } from './deps';
import { createSnapshot, verifySnapshot } from './snapshots.service';
import { liveRanking } from './rankings.service';
import { transition } from './workflow.service';

let handle: DatabaseHandle;

beforeAll(async () => {
  handle = await openDatabase({});
  await migrateToLatest(handle.db);
}, 120_000);
afterAll(async () => {
  await handle?.close();
});

describe('embedded PGlite', () => {
  it('ranks, snapshots, submits and keeps the audit chain', async () => {
    const keyring = createKeyring({ current: randomBytes(32) });
    const now = new Date('2022-10-12T00:00:00+08:00');
    const ctx = toContext({ db: handle.db, keyring, logger: createLogger({ level: 'silent', service: 't' }), clock: () => now, scryptCost: 2 ** 10 });
    await createStaffUser(ctx, 'test', { username: 'op', roles: ['operator'], password: 'a-long-password' });
    const person = await handle.db
      .insertInto('persons')
      .values({ id_hash: 'h1', id_ciphertext: keyring.encrypt('pii', 'x'), name_ciphertext: keyring.encrypt('pii', '张三丰'), name_masked: '张*丰' })
      .returning('person_id')
      .executeTakeFirstOrThrow();
    await handle.db.insertInto('person_period_counts').values({ person_id: person.person_id, period: '2022-Q3', rides: 4, last_counted_at: '2022-09-01T08:00:00+08:00', rules_version: '2022.default' }).execute();
    const live = await liveRanking(handle.db, '2022-Q3', 'shared');
    expect(live.rows.map((r) => [r.rank, r.nameMasked, r.rides])).toEqual([[1, '张*丰', 4]]);
    const actor = { userId: 'u', username: 'op', roles: ['operator'] };
    const s = await createSnapshot(ctx, actor, { period: '2022-Q3', tiePolicy: 'shared' });
    expect(s.rowCount).toBe(1);
    expect((await verifySnapshot(ctx, s.snapshotId)).ok).toBe(true);
    expect((await transition(ctx, actor, s.snapshotId, 'submit', null)).status).toBe('submitted');
    const chain = await verifyAuditChain(handle.db);
    expect(chain).toMatchObject({ ok: true, checked: 3 });
  });
});
