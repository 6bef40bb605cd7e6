import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findDeviceCredentials } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { generateMasterKey, keyringFromEnv } from '@ridetally/keyring';
import { REPO_ROOT } from './testing/service-process';

// `pnpm ridetally device …` (services/cli/src/commands/device.command.ts) against a test database.
const run = promisify(execFile);
const masterKey = generateMasterKey();
const keyring = keyringFromEnv(masterKey);
let db: TestDatabase;
const cli = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'services/cli/src/main.ts'), 'device', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: db.url, RIDETALLY_MASTER_KEY: masterKey },
  });

beforeAll(async () => {
  db = await createTestDatabase(1);
});
afterAll(async () => {
  await db.drop();
});

describe('ridetally device', () => {
  it('adds (secret shown once, stored encrypted), rotates with a grace period, lists and revokes', async () => {
    const added = await cli('add', '--id', 'VAL-1', '--vehicle', 'V0123', '--json');
    const json = JSON.parse(added.stdout) as { deviceId: string; secret: string };
    expect(Object.keys(json)).toEqual(['deviceId', 'secret']);
    expect(json.deviceId).toBe('VAL-1');
    expect(json.secret).toMatch(/^[0-9a-f]{64}$/);
    const row = await findDeviceCredentials(db.db, 'VAL-1');
    expect(row!.secret_ciphertext.toString('hex')).not.toContain(Buffer.from(json.secret).toString('hex'));
    expect(keyring.decryptString('device-secret', row!.secret_ciphertext)).toBe(json.secret);
    await expect(cli('add', '--id', 'VAL-1', '--vehicle', 'V0123')).rejects.toMatchObject({ code: 1 });

    const rotated = JSON.parse((await cli('rotate', 'VAL-1', '--grace-hours', '2', '--json')).stdout) as { secret: string; previousValidUntil: string };
    expect(rotated.secret).not.toBe(json.secret);
    const after = await findDeviceCredentials(db.db, 'VAL-1');
    expect(keyring.decryptString('device-secret', after!.secret_ciphertext)).toBe(rotated.secret);
    expect(keyring.decryptString('device-secret', after!.previous_secret_ciphertext!)).toBe(json.secret);
    expect(after!.previous_valid_until!.toISOString()).toBe(rotated.previousValidUntil);

    const listed = (await cli('list', '--json')).stdout;
    expect(listed).toContain('"deviceId":"VAL-1"');
    expect(listed).not.toContain(json.secret);
    expect(listed).not.toContain(rotated.secret);

    expect((await cli('revoke', 'VAL-1')).stdout).toContain('revoked');
    expect((await findDeviceCredentials(db.db, 'VAL-1'))!.status).toBe('revoked');
  }, 60_000);
});
