/**
 * Staff sessions across a master-key rotation, against real PostgreSQL: a session opened under the
 * old key keeps working while the new key is deployed with the previous one (it is `keys rotate` that
 * revokes sessions older than the rotation, services/cli keys.command.int.test.ts), logging out ends
 * it, and with the new key alone it no longer authenticates.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { generateMasterKey, keyringFromEnv, type Keyring } from '@ridetally/keyring';
import { createLogger } from '@ridetally/telemetry';
import { createRewardApp } from '../app';
import { toContext, type RewardContext } from '../deps';
import { authenticate, createStaffUser, login, logout } from './auth.service';

const OLD = generateMasterKey();
const NEW = generateMasterKey();
const oldKr = keyringFromEnv(OLD);
const windowKr = keyringFromEnv(NEW, OLD);
const newKr = keyringFromEnv(NEW);

let tdb: TestDatabase;
beforeEach(async () => {
  tdb = await createTestDatabase(3);
}, 60_000);
afterEach(async () => {
  await tdb.drop();
}, 60_000);

const logger = createLogger({ level: 'silent', service: 'reward-test' });
const ctxOf = (keyring: Keyring): RewardContext => toContext({ db: tdb.db, keyring, logger, scryptCost: 2 ** 10 });

async function withApp<T>(keyring: Keyring, fn: (url: string) => Promise<T>): Promise<T> {
  const app = createRewardApp({ db: tdb.db, keyring, logger, scryptCost: 2 ** 10 });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    return await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const me = (url: string, token: string) => fetch(`${url}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);

describe('staff sessions during a master-key rotation window', () => {
  it('authenticates a session opened under the previous key until the previous key is removed', async () => {
    await createStaffUser(ctxOf(oldKr), 'test', { username: 'ops', roles: ['admin'], password: 'correct horse battery staple 9' });
    const before = await login(ctxOf(oldKr), 'ops', 'correct horse battery staple 9');
    const second = await login(ctxOf(oldKr), 'ops', 'correct horse battery staple 9');
    expect(await authenticate(ctxOf(oldKr), before.token)).toMatchObject({ username: 'ops' });

    // The window: new key with the previous one. Old sessions and new ones both work, over HTTP too.
    const during = await login(ctxOf(windowKr), 'ops', 'correct horse battery staple 9');
    expect(await authenticate(ctxOf(windowKr), before.token)).toMatchObject({ username: 'ops', roles: ['admin'] });
    expect(await authenticate(ctxOf(windowKr), during.token)).toMatchObject({ username: 'ops' });
    expect(await authenticate(ctxOf(windowKr), `${before.token}x`)).toBeUndefined();
    await withApp(windowKr, async (url) => {
      expect(await me(url, before.token)).toBe(200);
      expect(await me(url, during.token)).toBe(200);
    });

    // Logging out during the window ends the old-key session.
    const actor = (await authenticate(ctxOf(windowKr), second.token))!;
    await logout(ctxOf(windowKr), second.token, actor);
    expect(await authenticate(ctxOf(windowKr), second.token)).toBeUndefined();
    expect(await authenticate(ctxOf(oldKr), second.token)).toBeUndefined();

    // New key alone (previous removed): the old-key session fails, the new one still works.
    expect(await authenticate(ctxOf(newKr), before.token)).toBeUndefined();
    expect(await authenticate(ctxOf(newKr), during.token)).toMatchObject({ username: 'ops' });
    await withApp(newKr, async (url) => {
      expect(await me(url, before.token)).toBe(401);
      expect(await me(url, during.token)).toBe(200);
    });
  });
});
