/** `ridetally user add|list`: staff accounts (the first admin is created here). */
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { createStaffUser, STAFF_ROLES, toolContext, type Role } from '@ridetally/reward';
import { listStaffUsers } from '@ridetally/db';
import { CliError, withContext } from '../context';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Who a CLI action is audited as: the operating-system account running it. */
export function cliActor(): string {
  return `cli:${userInfo().username}`;
}

export function registerUser(program: Command): void {
  const user = program.command('user').description('staff accounts');
  user
    .command('add')
    .description('create a staff user; without --password-stdin a random password is printed once')
    .requiredOption('--username <name>', 'login name (a-z 0-9 . _ -)')
    .requiredOption('--role <role...>', `one or more of ${STAFF_ROLES.join(', ')}`)
    .option('--display-name <name>', 'shown in the console')
    .option('--password-stdin', 'read the password from standard input')
    .action((opts: { username: string; role: string[]; displayName?: string; passwordStdin?: boolean }) =>
      withContext(async ({ handle, keyring }) => {
        const bad = opts.role.filter((r) => !(STAFF_ROLES as readonly string[]).includes(r));
        if (bad.length) throw new CliError(`unknown role(s): ${bad.join(', ')} (use ${STAFF_ROLES.join(', ')})`);
        if (!/^[a-z0-9._-]{3,64}$/.test(opts.username)) throw new CliError('username: 3–64 characters a-z 0-9 . _ -');
        const generated = !opts.passwordStdin;
        const password = generated ? randomBytes(15).toString('base64url') : await readStdin();
        const ctx = toolContext(handle.db, keyring);
        try {
          const u = await createStaffUser(ctx, cliActor(), { username: opts.username, roles: opts.role as Role[], password, displayName: opts.displayName ?? null });
          process.stdout.write(`created ${u.username} (${u.userId}) with roles ${u.roles.join(', ')}\n`);
          if (generated) process.stdout.write(`password (shown once): ${password}\n`);
        } catch (e) {
          throw new CliError(e instanceof Error ? e.message : String(e));
        }
      }),
    );
  user
    .command('list')
    .description('list staff users and their roles')
    .action(() =>
      withContext(async ({ handle }) => {
        for (const u of await listStaffUsers(handle.db)) {
          process.stdout.write(`${u.username}\t${u.roles.join(',')}\t${u.disabled_at ? 'disabled' : 'active'}\n`);
        }
      }),
    );
}
