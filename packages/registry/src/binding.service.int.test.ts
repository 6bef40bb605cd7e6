import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBindingsOfPerson } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { AppError } from '@ridetally/http';
import { bindMedium, unbindMedium } from './binding.service';
import { registerPerson } from './person.service';
import { makeIdNumber, testClock, testKeyring } from './testing/registry-test-kit';

let tdb: TestDatabase;
const keyring = testKeyring();
const clock = testClock('2022-06-15T10:00:00+08:00');

// One connection, as in the embedded (PGlite) mode: nothing may wait for a second connection.
beforeAll(async () => {
  tdb = await createTestDatabase(1);
});
afterAll(async () => {
  await tdb.drop();
});

describe('bindings on a single connection', () => {
  it('binds, refuses an overlap with a 409, unbinds from now and from a date', async () => {
    const deps = { db: tdb.db, keyring, now: clock.now };
    const a = (await registerPerson(deps, { idNumber: makeIdNumber('141102', '19800101', 1), name: '甲乙丙' })).personId;
    const b = (await registerPerson(deps, { idNumber: makeIdNumber('141102', '19800101', 2), name: '丁戊己' })).personId;
    await bindMedium(deps, { personId: a, type: 'transit_card', id: 'C1', kind: 'senior' });
    const overlap = await bindMedium(deps, { personId: b, type: 'transit_card', id: 'C1', validFrom: '2022-06-01' }).catch((e: unknown) => e);
    expect(overlap).toBeInstanceOf(AppError);
    expect((overlap as AppError).status).toBe(409);
    expect((overlap as AppError).message).toContain('bound to another person from 2022-06-15 10:00 to open-ended');

    clock.advance(3600_000);
    const ended = await unbindMedium(deps, { personId: a, type: 'transit_card', id: 'C1' });
    expect(ended.validTo).toBe('2022-06-15T03:00:00.000Z');
    // Now free: b may take it from the end of a's binding on.
    await bindMedium(deps, { personId: b, type: 'transit_card', id: 'C1' });
    const notBound = await unbindMedium(deps, { personId: a, type: 'transit_card', id: 'C1', validTo: '2022-07-01' }).catch((e: unknown) => e);
    expect((notBound as AppError).status).toBe(404);
    expect((await findBindingsOfPerson(tdb.db, a)).map((x) => [x.media_kind, x.valid_to?.toISOString()])).toEqual([['senior', '2022-06-15T03:00:00.000Z']]);
  });
});
