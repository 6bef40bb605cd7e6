/**
 * `ridetally client add --name <n> [--json]`: a rider-app integration credential. The token is
 * printed once and stored only as a keyed hash. `client revoke <client_id>` ends it.
 */
import type { Command } from 'commander';
import { revokeApiClient } from '@ridetally/db';
import { createApiClient } from '@ridetally/registry';
import { CliError, withContext } from '../context';

export function registerClient(program: Command): void {
  const cmd = program.command('client').description('rider app integration clients (service credentials)');
  cmd
    .command('add')
    .description('create a client; prints its token once')
    .requiredOption('--name <name>', 'who the client is, e.g. "掌上公交 backend"')
    .option('--json', 'print {"clientId": …, "token": …}')
    .action((opts: { name: string; json?: boolean }) =>
      withContext(async ({ handle, keyring }) => {
        if (!opts.name.trim() || opts.name.length > 100) throw new CliError('--name must be 1-100 characters');
        const credential = await createApiClient({ db: handle.db, keyring }, opts.name);
        if (opts.json) process.stdout.write(JSON.stringify(credential) + '\n');
        else {
          process.stdout.write(`client ${credential.clientId}\ntoken  ${credential.token}\n`);
          process.stderr.write('the token is shown only now; send it as "Authorization: Bearer <token>"\n');
        }
      }),
    );
  cmd
    .command('revoke <client_id>')
    .description('revoke a client; its token stops working at once')
    .action((clientId: string) =>
      withContext(async ({ handle }) => {
        if (!(await revokeApiClient(handle.db, clientId, new Date()))) throw new CliError(`no active client ${clientId}`);
        process.stdout.write(`client ${clientId} revoked\n`);
      }),
    );
}
