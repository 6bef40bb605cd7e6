/**
 * `ridetally device …`: validators. A secret is shown once, at `add` and `rotate`; the database
 * keeps it encrypted with the device-secret key. With `--json`, stdout holds exactly one JSON object
 * (for scripts such as load-tests/README.md's devices file).
 */
import type { Command } from 'commander';
import { insertDevice, listDevices, revokeDevice, rotateDeviceSecret } from '@ridetally/db';
import { generateDeviceSecret } from '@ridetally/tap-ingest';
import { CliError, withContext } from '../context';

const DEVICE_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

function checkDeviceId(id: string): string {
  if (!DEVICE_ID_RE.test(id)) throw new CliError('device id must be 1-64 characters of A-Z a-z 0-9 . _ : -');
  return id;
}

export function registerDevice(program: Command): void {
  const device = program.command('device').description('validators: register, rotate secrets, revoke, list');

  device
    .command('add')
    .description('register a validator and print its secret (shown once)')
    .requiredOption('--id <id>', 'device id (X-Device-Id)')
    .requiredOption('--vehicle <vehicle>', 'vehicle the validator is mounted on')
    .option('--json', 'print {"deviceId": …, "secret": …} only')
    .action((opts: { id: string; vehicle: string; json?: boolean }) =>
      withContext(async ({ handle, keyring }) => {
        const deviceId = checkDeviceId(opts.id);
        const secret = generateDeviceSecret();
        const added = await insertDevice(handle.db, { deviceId, vehicleId: opts.vehicle, secretCiphertext: keyring.encrypt('device-secret', secret) });
        if (!added) throw new CliError(`device ${deviceId} already exists (use "device rotate" for a new secret)`);
        if (opts.json) process.stdout.write(JSON.stringify({ deviceId, secret }) + '\n');
        else process.stdout.write(`device ${deviceId} added (vehicle ${opts.vehicle})\nsecret: ${secret}\nThe secret is shown only now; load it into the validator.\n`);
      }),
    );

  device
    .command('revoke <id>')
    .description('revoke a validator: its requests are refused (401) within seconds')
    .action((id: string) =>
      withContext(async ({ handle }) => {
        if (!(await revokeDevice(handle.db, checkDeviceId(id), new Date()))) throw new CliError(`no active device ${id}`);
        process.stdout.write(`device ${id} revoked\n`);
      }),
    );

  device
    .command('rotate <id>')
    .description('give a validator a new secret; the old one stays valid for the grace period')
    .option('--grace-hours <hours>', 'hours the previous secret stays valid', '72')
    .option('--json', 'print {"deviceId": …, "secret": …, "previousValidUntil": …} only')
    .action((id: string, opts: { graceHours: string; json?: boolean }) =>
      withContext(async ({ handle, keyring }) => {
        const hours = Number(opts.graceHours);
        if (!Number.isFinite(hours) || hours < 0 || hours > 24 * 90) throw new CliError('--grace-hours must be a number of hours between 0 and 2160');
        const secret = generateDeviceSecret();
        const now = new Date();
        const until = new Date(now.getTime() + hours * 3600_000);
        if (!(await rotateDeviceSecret(handle.db, checkDeviceId(id), keyring.encrypt('device-secret', secret), until, now))) {
          throw new CliError(`no active device ${id}`);
        }
        if (opts.json) process.stdout.write(JSON.stringify({ deviceId: id, secret, previousValidUntil: until.toISOString() }) + '\n');
        else process.stdout.write(`device ${id}: new secret: ${secret}\nprevious secret valid until ${until.toISOString()}\n`);
      }),
    );

  device
    .command('list')
    .description('list validators (never their secrets)')
    .option('--json', 'JSON lines')
    .action((opts: { json?: boolean }) =>
      withContext(async ({ handle }) => {
        const rows = await listDevices(handle.db);
        const iso = (d: Date | null) => (d ? d.toISOString() : '');
        for (const r of rows) {
          const fields = {
            deviceId: r.device_id,
            vehicleId: r.vehicle_id,
            status: r.status,
            createdAt: iso(r.created_at),
            rotatedAt: iso(r.rotated_at),
            previousValidUntil: iso(r.previous_valid_until),
            revokedAt: iso(r.revoked_at),
            lastSeenAt: iso(r.last_seen_at),
          };
          process.stdout.write(opts.json ? JSON.stringify(fields) + '\n' : Object.values(fields).map((v) => v ?? '').join('\t') + '\n');
        }
        if (!opts.json && rows.length === 0) process.stdout.write('no devices\n');
      }),
    );
}
