/**
 * The master-key rotation window (new key deployed with the previous one, `keys rotate` not done):
 * a city registered under the old key is used through the registry with both keys set, against real
 * PostgreSQL. Persons are found under the old hash (no second person), ID cards are bound under their
 * holder's key as it is (so keys rotate moves them together), rider-app tokens keep working until the
 * previous key is removed; keys rotate then finishes without conflicts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { generateMasterKey, keyringFromEnv, type Keyring } from '@ridetally/keyring';
import { bindMedium, unbindMedium } from './binding.service';
import { authenticateApiClient, createApiClient } from './client.service';
import { importEmployees } from './imports/employees.import';
import { importEmployers } from './imports/employers.import';
import { importMedia } from './imports/media.import';
import { readCsv } from './imports/table-reader';
import { keyStatus, rotateKeys } from './key-rotation';
import { registerPerson } from './person.service';
import { insertTap, makeIdNumber } from './testing/registry-test-kit';

const OLD = generateMasterKey();
const NEW = generateMasterKey();
const oldKr = keyringFromEnv(OLD);
const windowKr = keyringFromEnv(NEW, OLD);
const newKr = keyringFromEnv(NEW);
const ID_A = makeIdNumber('141102', '19800101', 11);
const ID_B = makeIdNumber('141102', '19850505', 22);
const ID_C = makeIdNumber('141102', '19900909', 33);
const ID_E = makeIdNumber('141102', '19950202', 44);
const now = () => new Date();

let tdb: TestDatabase;
const deps = (keyring: Keyring) => ({ db: tdb.db, keyring, now });

beforeEach(async () => {
  tdb = await createTestDatabase(3);
}, 60_000);
afterEach(async () => {
  await tdb.drop();
}, 60_000);

async function persons(): Promise<{ person_id: string; id_hash: string }[]> {
  const { rows } = await sql<{ person_id: string; id_hash: string }>`SELECT person_id, id_hash FROM persons ORDER BY person_id`.execute(tdb.db);
  return rows;
}

async function idCardBindings(personId: string): Promise<string[]> {
  const { rows } = await sql<{ media_key: string }>`
    SELECT media_key FROM media_bindings WHERE person_id = ${personId}::uuid AND media_type = 'id_card' ORDER BY lower(valid)`.execute(tdb.db);
  return rows.map((r) => r.media_key);
}

describe('registry during a master-key rotation window', () => {
  it('finds old-key persons everywhere a national ID is resolved, binds ID cards under the holder key, and keys rotate finishes clean', async () => {
    // The city under the old key.
    const a = await registerPerson(deps(oldKr), { idNumber: ID_A, name: '李四', phone: '13800000001' });
    await bindMedium(deps(oldKr), { personId: a.personId, type: 'id_card', id: 'self', validFrom: '2022-04-01' });
    const tapA = await insertTap(tdb.db, { tappedAt: '2022-07-01T08:00:00+08:00', mediaType: 'id_card', mediaKey: oldKr.hashIdNumber(ID_A) });
    await sql`UPDATE taps SET media_ciphertext = ${oldKr.encrypt('pii', ID_A)} WHERE tap_id = ${tapA}`.execute(tdb.db);
    const b = await registerPerson(deps(oldKr), { idNumber: ID_B, name: '王五' });
    const c = await registerPerson(deps(oldKr), { idNumber: ID_C, name: '赵六' });
    await importEmployers(deps(oldKr), readCsv(Buffer.from('code,name,type,city_area\nE1,市财政局,agency,true\n')));
    const before = await persons();
    expect(before).toHaveLength(3);

    // The window: every process runs with the new key and the previous one.
    const w = deps(windowKr);
    const again = await registerPerson(w, { idNumber: ID_A.toLowerCase(), name: '李四', phone: '13800000002' });
    expect(again).toEqual({ personId: a.personId, created: false, updated: ['phone'] });
    // An ID card named by its number is its holder's (old) key, not refused as someone else's.
    await bindMedium(w, { personId: c.personId, type: 'id_card', id: ID_C, validFrom: '2022-05-01', validTo: '2022-06-30' });
    await bindMedium(w, { personId: c.personId, type: 'id_card', id: 'self', validFrom: '2022-08-01' });
    await unbindMedium(w, { personId: c.personId, type: 'id_card', id: 'self', validTo: '2022-12-31' });
    expect(await idCardBindings(c.personId)).toEqual([oldKr.hashIdNumber(ID_C), oldKr.hashIdNumber(ID_C)]);
    await expect(bindMedium(w, { personId: c.personId, type: 'id_card', id: ID_B, validFrom: '2023-02-01' })).rejects.toMatchObject({
      code: 'unprocessable',
    });
    const roster = await importEmployees(
      w,
      readCsv(Buffer.from(`id_number,name,employer_code,in_service_from,in_service_to\n${ID_A},李四,E1,2022-01-01,\n${ID_B},王五二,E1,2022-03-01,\n${ID_E},孙七,E1,2022-01-01,\n`)),
    );
    expect(roster).toMatchObject({ applied: true, changes: { personsCreated: 1, personsRenamed: 1, personsWithNewIntervals: 3 } });
    const media = await importMedia(
      w,
      readCsv(Buffer.from(`id_number,media_type,media_kind,media_id,valid_from,valid_to\n${ID_B},id_card,,${ID_B},2022-04-01,\n${ID_B},transit_card,normal,TC-9,2022-04-01,\n${ID_E},id_card,,${ID_E},2022-04-01,\n`)),
    );
    expect(media).toMatchObject({ applied: true, problems: [], changes: { created: 3 } });
    // A re-run is unchanged (the stored ID-card binding is found under the holder's old key).
    const rerun = await importMedia(w, readCsv(Buffer.from(`id_number,media_type,media_kind,media_id,valid_from,valid_to\n${ID_B},id_card,,${ID_B},2022-04-01,\n`)));
    expect(rerun).toMatchObject({ applied: true, changes: { unchanged: 1, created: 0 } });
    expect(await idCardBindings(b.personId)).toEqual([oldKr.hashIdNumber(ID_B)]);

    // No second person for A, B or C; only E is new, under the new key.
    const during = await persons();
    expect(during).toHaveLength(4);
    const e = during.find((p) => !before.some((x) => x.person_id === p.person_id))!;
    expect(e.id_hash).toBe(newKr.hashIdNumber(ID_E));
    expect(await idCardBindings(e.person_id)).toEqual([newKr.hashIdNumber(ID_E)]);
    for (const p of before) expect(during.find((x) => x.person_id === p.person_id)!.id_hash).toBe(before.find((x) => x.person_id === p.person_id)!.id_hash);

    const report = await rotateKeys(w);
    expect(report.conflicts).toEqual([]);
    expect(report.after).toEqual({ devices: 0, persons: 0, idCardBindings: 0, idCardTaps: 0 });
    expect(report.changed).toMatchObject({ persons: 3, idCardBindings: 4, idCardTaps: 1 });
    expect(await keyStatus(deps(newKr))).toMatchObject({ done: true });
    expect(await idCardBindings(a.personId)).toEqual([newKr.hashIdNumber(ID_A)]);
    expect(await idCardBindings(b.personId)).toEqual([newKr.hashIdNumber(ID_B)]);
    expect(await idCardBindings(c.personId)).toEqual([newKr.hashIdNumber(ID_C), newKr.hashIdNumber(ID_C)]);

    // After the previous key is removed: the same persons, under the new key.
    const after = await registerPerson(deps(newKr), { idNumber: ID_A, name: '李四', phone: '13800000002' });
    expect(after).toEqual({ personId: a.personId, created: false, updated: [] });
    expect(await persons()).toHaveLength(4);
  });

  it('binds an ID card under the key its holder has at commit when keys rotate re-keys the holder meanwhile', async () => {
    const c = await registerPerson(deps(oldKr), { idNumber: ID_C, name: '赵六' });
    let bound: Promise<unknown> | undefined;
    let settled = false;
    // What keys rotate does to a person in one transaction (lock FOR UPDATE, new id_hash and
    // ciphertext, bindings under the old hash moved); the binding starts in the middle of it.
    await tdb.db.transaction().execute(async (trx) => {
      await sql`SELECT 1 FROM persons WHERE person_id = ${c.personId}::uuid FOR UPDATE`.execute(trx);
      bound = bindMedium(deps(windowKr), { personId: c.personId, type: 'id_card', id: 'self', validFrom: '2022-04-01' }).finally(() => {
        settled = true;
      });
      await new Promise((r) => setTimeout(r, 500));
      expect(settled).toBe(false);
      await sql`UPDATE persons SET id_hash = ${newKr.hashIdNumber(ID_C)}, id_ciphertext = ${newKr.encrypt('pii', ID_C)},
                  name_ciphertext = ${newKr.encrypt('pii', '赵六')} WHERE person_id = ${c.personId}::uuid`.execute(trx);
      await sql`UPDATE media_bindings SET media_key = ${newKr.hashIdNumber(ID_C)} WHERE media_key = ${oldKr.hashIdNumber(ID_C)}`.execute(trx);
    });
    await bound;
    expect(await idCardBindings(c.personId)).toEqual([newKr.hashIdNumber(ID_C)]);
    expect((await keyStatus(deps(windowKr))).remaining).toEqual({ devices: 0, persons: 0, idCardBindings: 0, idCardTaps: 0 });
  });

  it('authenticates a rider-app client issued under the old key until the previous key is removed', async () => {
    const old = await createApiClient(deps(oldKr), '掌上公交');
    const fresh = await createApiClient(deps(windowKr), '掌上公交 2');
    expect(await authenticateApiClient(deps(windowKr), old.token)).toEqual({ client_id: old.clientId, name: '掌上公交' });
    expect(await authenticateApiClient(deps(windowKr), fresh.token)).toEqual({ client_id: fresh.clientId, name: '掌上公交 2' });
    expect(await authenticateApiClient(deps(windowKr), `${old.token}x`)).toBeUndefined();
    // keys rotate cannot re-hash the token: it lists the client to re-issue, and the token keeps
    // working as long as the previous key is set.
    await rotateKeys(deps(windowKr));
    expect((await keyStatus(deps(windowKr))).clientsToReissue.map((x) => x.clientId)).toContain(old.clientId);
    expect(await authenticateApiClient(deps(windowKr), old.token)).toMatchObject({ client_id: old.clientId });
    // With the new key alone (step 5): the old token fails as documented, the new one works.
    expect(await authenticateApiClient(deps(newKr), old.token)).toBeUndefined();
    expect(await authenticateApiClient(deps(newKr), fresh.token)).toMatchObject({ client_id: fresh.clientId });
    // A revoked client is refused under either key.
    await sql`UPDATE api_clients SET revoked_at = now() WHERE client_id = ${old.clientId}`.execute(tdb.db);
    expect(await authenticateApiClient(deps(windowKr), old.token)).toBeUndefined();
  });
});
