/**
 * keys rotate's edge cases in process, against real PostgreSQL (the full city, the SIGKILL and the
 * counting are in services/cli/src/commands/keys.command.int.test.ts): refusals, the dry run, a
 * person registered again under the new key alone (a process missing the previous key), and a card's old taps re-keyed
 * after its holder bound it under the new key.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { generateMasterKey, keyringFromEnv } from '@ridetally/keyring';
import { bindMedium } from './binding.service';
import { createApiClient } from './client.service';
import { keyStatus, KeyRotationError, rotateKeys } from './key-rotation';
import { registerPerson } from './person.service';
import { insertTap, makeIdNumber, outboxEntries } from './testing/registry-test-kit';

const OLD = generateMasterKey();
const NEW = generateMasterKey();
const oldKr = keyringFromEnv(OLD);
const windowKr = keyringFromEnv(NEW, OLD);
const newKr = keyringFromEnv(NEW);
const ID_A = makeIdNumber('140102', '19900101', 11);
const ID_B = makeIdNumber('140102', '19900101', 12);
const now = () => new Date('2026-11-29T06:00:00Z');

let tdb: TestDatabase;
// A fresh database per test; generous hook timeouts: creating and dropping one waits on a busy server.
beforeEach(async () => {
  tdb = await createTestDatabase(2);
}, 60_000);
afterEach(async () => {
  await tdb.drop();
}, 60_000);

async function idCardTap(idNumber: string, tappedAt: string, keyring = oldKr): Promise<number> {
  const tapId = await insertTap(tdb.db, { tappedAt, mediaType: 'id_card', mediaKey: keyring.hashIdNumber(idNumber) });
  await sql`UPDATE taps SET media_ciphertext = ${keyring.encrypt('pii', idNumber)} WHERE tap_id = ${tapId}`.execute(tdb.db);
  return tapId;
}

describe('rotateKeys', () => {
  it('counts in a dry run without changing anything, and refuses without the previous key', async () => {
    await registerPerson({ db: tdb.db, keyring: oldKr, now }, { idNumber: ID_A, name: '李四' });
    await idCardTap(ID_B, '2022-07-01T08:00:00+08:00');
    const dry = await rotateKeys({ db: tdb.db, keyring: windowKr, now }, { dryRun: true });
    expect(dry.changed).toMatchObject({ persons: 1, idCardTaps: 1, devices: 0 });
    expect(await keyStatus({ db: tdb.db, keyring: windowKr, now })).toMatchObject({ done: false, remaining: { persons: 1, idCardTaps: 1 } });
    await expect(rotateKeys({ db: tdb.db, keyring: newKr, now })).rejects.toThrow(/neither RIDETALLY_MASTER_KEY .* nor RIDETALLY_MASTER_KEY_PREVIOUS \(not set\)/);
    const other = keyringFromEnv(generateMasterKey(), NEW);
    const refusal = await rotateKeys({ db: tdb.db, keyring: other, now }).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(KeyRotationError);
    expect((refusal as Error).message).toContain(oldKr.keyId);
    for (const secret of [OLD, NEW, ID_A, ID_B]) expect((refusal as Error).message).not.toContain(secret);
    await expect(rotateKeys({ db: tdb.db, keyring: windowKr, now }, { batchSize: 0 })).rejects.toThrow(KeyRotationError);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_log`.execute(tdb.db);
    expect(rows[0]!.n).toBe(0);
    expect((await keyStatus({ db: tdb.db, keyring: windowKr, now })).remaining).toMatchObject({ persons: 1, idCardTaps: 1 });
  });

  it('leaves a person registered again under the new key to be merged, names only ids, exits unfinished', async () => {
    const a = await registerPerson({ db: tdb.db, keyring: oldKr, now }, { idNumber: ID_A, name: '李四' });
    await bindMedium({ db: tdb.db, keyring: oldKr, now }, { personId: a.personId, type: 'id_card', id: 'self', validFrom: '2022-04-01' });
    await idCardTap(ID_A, '2022-07-01T08:00:00+08:00');
    // With both keys set the registry finds the old person (rotation-window.int.test.ts); a process
    // deployed with the new key but WITHOUT the previous one does not: a second person.
    const again = await registerPerson({ db: tdb.db, keyring: newKr, now }, { idNumber: ID_A, name: '李四' });
    expect(again.created).toBe(true);
    const report = await rotateKeys({ db: tdb.db, keyring: windowKr, now });
    expect(report.conflicts).toEqual([a.personId]);
    expect(report.changed.persons).toBe(0);
    expect(report.after).toMatchObject({ persons: 1, idCardBindings: 1 });
    // The old person, its binding and its tap are untouched (still the old world, still consistent).
    const { rows } = await sql<{ id_hash: string }>`SELECT id_hash FROM persons WHERE person_id = ${a.personId}::uuid`.execute(tdb.db);
    expect(rows[0]!.id_hash).toBe(oldKr.hashIdNumber(ID_A));
    const { rows: taps } = await sql<{ media_key: string }>`SELECT media_key FROM taps`.execute(tdb.db);
    expect(taps).toEqual([{ media_key: oldKr.hashIdNumber(ID_A) }]);
    const { rows: audit } = await sql<{ details: { outcome: string; conflicts: number } }>`SELECT details FROM audit_log WHERE action = 'keys.rotate'`.execute(tdb.db);
    expect(audit.map((x) => x.details)).toMatchObject([{ outcome: 'completed', conflicts: 1 }]);
    expect(JSON.stringify(audit)).not.toContain(ID_A);
    expect((await keyStatus({ db: tdb.db, keyring: windowKr, now })).done).toBe(false);
  });

  it("lists the clients to re-issue in the first run's report", async () => {
    const client = await createApiClient({ db: tdb.db, keyring: oldKr }, 'rider app');
    await new Promise((r) => setTimeout(r, 5));
    const report = await rotateKeys({ db: tdb.db, keyring: windowKr, now: () => new Date() });
    expect(report.clientsToReissue.map((c) => c.clientId)).toEqual([client.clientId]);
  });

  it('re-keys an unregistered card and announces its holder who bound it under the new key meanwhile', async () => {
    const first = await idCardTap(ID_B, '2022-07-01T08:00:00+08:00');
    await idCardTap(ID_B, '2022-07-03T08:00:00+08:00');
    const b = await registerPerson({ db: tdb.db, keyring: windowKr, now }, { idNumber: ID_B, name: '王五' });
    await bindMedium({ db: tdb.db, keyring: windowKr, now }, { personId: b.personId, type: 'id_card', id: 'self', validFrom: '2022-04-01' });
    const before = (await outboxEntries(tdb.db)).length;
    const report = await rotateKeys({ db: tdb.db, keyring: windowKr, now }, { batchSize: 1 });
    expect(report.changed).toMatchObject({ persons: 0, idCardTaps: 2, tapKeys: 2 });
    expect(report.personEvents).toBe(1);
    expect(report.after).toEqual({ devices: 0, persons: 0, idCardBindings: 0, idCardTaps: 0 });
    const added = (await outboxEntries(tdb.db)).slice(before);
    expect(added).toContainEqual({ topic: 'person', payload: { personId: b.personId, from: '2022-07-01T00:00:00.000Z' } });
    const { rows } = await sql<{ media_key: string; media_ciphertext: Buffer }>`SELECT media_key, media_ciphertext FROM taps WHERE tap_id = ${first}`.execute(tdb.db);
    expect(rows[0]!.media_key).toBe(newKr.hashIdNumber(ID_B));
    expect(newKr.decryptString('pii', rows[0]!.media_ciphertext)).toBe(ID_B);
    const { rows: rot } = await sql<{ finished_at: Date | null }>`SELECT finished_at FROM key_rotations`.execute(tdb.db);
    expect(rot[0]!.finished_at).not.toBeNull();
  });
});
