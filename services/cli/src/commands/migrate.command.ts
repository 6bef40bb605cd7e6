import type { Command } from 'commander';
import { migrateToLatest } from '@ridetally/db';
import { withContext } from '../context';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations (PostgreSQL with DATABASE_URL, else the embedded data folder)')
    .action(() =>
      withContext(async ({ handle }) => {
        const applied = await migrateToLatest(handle.db);
        process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
      }),
    );
}
