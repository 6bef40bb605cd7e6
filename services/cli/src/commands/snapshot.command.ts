/** `ridetally snapshot create|list|show|verify|drift`: frozen lists (R10-R12). */
import type { Command } from 'commander';
import { TIE_POLICIES, type TiePolicy } from '@ridetally/domain';
import { createSnapshot, findSnapshots, getSnapshot, snapshotDrift, toolContext, verifySnapshot } from '@ridetally/reward';
import { CliError, withContext, type CliContext } from '../context';
import { cliActor } from './user.command';

export function rewardContext({ handle, keyring }: CliContext) {
  return toolContext(handle.db, keyring);
}

export const cliStaff = () => ({ userId: 'cli', username: cliActor(), roles: ['operator'] as const });

async function cli<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e));
  }
}

function print(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}

export function registerSnapshot(program: Command): void {
  const snap = program.command('snapshot').description('frozen quarterly and annual lists');
  snap
    .command('create')
    .description('freeze the list of a closed period (refused before period end + grace)')
    .requiredOption('--period <period>', '2022-Q3 or 2022')
    .option('--tie-policy <policy>', TIE_POLICIES.join(' | '), 'shared')
    .action((opts: { period: string; tiePolicy: string }) =>
      withContext(async (c) => {
        if (!(TIE_POLICIES as readonly string[]).includes(opts.tiePolicy)) throw new CliError(`--tie-policy must be ${TIE_POLICIES.join(' or ')}`);
        print(await cli(() => createSnapshot(rewardContext(c), { ...cliStaff(), roles: ['operator'] }, { period: opts.period, tiePolicy: opts.tiePolicy as TiePolicy })));
      }),
    );
  snap
    .command('list')
    .option('--period <period>')
    .action((opts: { period?: string }) => withContext(async (c) => print(await cli(() => findSnapshots(rewardContext(c), { period: opts.period })))));
  snap.command('show <id>').action((id: string) => withContext(async (c) => print(await cli(() => getSnapshot(rewardContext(c), id)))));
  snap
    .command('verify <id>')
    .description('recompute the SHA-256 of the stored content')
    .action((id: string) =>
      withContext(async (c) => {
        const v = await cli(() => verifySnapshot(rewardContext(c), id));
        print(v);
        if (!v.ok) process.exitCode = 1;
      }),
    );
  snap
    .command('drift <id>')
    .description('how live counts differ from the snapshot')
    .action((id: string) => withContext(async (c) => print(await cli(() => snapshotDrift(rewardContext(c), id)))));
}
