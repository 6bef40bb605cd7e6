/** `ridetally audit verify|list`: the hash-chained audit log. */
import type { Command } from 'commander';
import { listAudit, verifyAuditChain } from '@ridetally/db';
import { withContext } from '../context';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the audit log');
  audit
    .command('verify')
    .description('recompute the hash chain; exit 1 and name the first edited or missing row if broken')
    .action(() =>
      withContext(async ({ handle }) => {
        const v = await verifyAuditChain(handle.db);
        if (v.ok) {
          process.stdout.write(`audit log intact: ${v.checked} rows\n`);
          return;
        }
        process.stdout.write(`audit log BROKEN at row ${v.brokenAtId}: ${v.problem} (${v.checked} rows before it are intact)\n`);
        process.exitCode = 1;
      }),
    );
  audit
    .command('list')
    .description('print audit entries as JSON lines')
    .option('--after <id>', 'entries after this id', '0')
    .option('--limit <n>', 'how many', '100')
    .action((opts: { after: string; limit: string }) =>
      withContext(async ({ handle }) => {
        for (const r of await listAudit(handle.db, { afterId: Number(opts.after), limit: Math.min(10_000, Number(opts.limit)) })) {
          process.stdout.write(JSON.stringify(r) + '\n');
        }
      }),
    );
}
