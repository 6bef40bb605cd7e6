/** `ridetally export snapshot|notice|payment-list|tides`: files for the office, the public and the bureau. */
import { createWriteStream, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { exportPaymentList, exportSnapshot, noticeHtml, noticePdf, streamTides } from '@ridetally/reward';
import { CliError, withContext } from '../context';
import { cliStaff, rewardContext } from './snapshot.command';

function format(f: string): 'csv' | 'xlsx' {
  if (f !== 'csv' && f !== 'xlsx') throw new CliError('--format must be csv or xlsx');
  return f;
}

async function cli<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e));
  }
}

export function registerExport(program: Command): void {
  const exp = program.command('export').description('exports (audited)');
  exp
    .command('snapshot <id>')
    .requiredOption('--output <file>')
    .option('--format <format>', 'csv | xlsx', 'csv')
    .action((id: string, opts: { output: string; format: string }) =>
      withContext(async (c) => {
        const f = await cli(() => exportSnapshot(rewardContext(c), { ...cliStaff(), roles: ['operator'] }, id, format(opts.format)));
        writeFileSync(opts.output, f.body);
      }),
    );
  exp
    .command('notice <id>')
    .description('the public notice as HTML or PDF (masked names)')
    .requiredOption('--output <file>', 'ends in .html or .pdf')
    .action((id: string, opts: { output: string }) =>
      withContext(async (c) => {
        const ctx = rewardContext(c);
        if (opts.output.endsWith('.pdf')) writeFileSync(opts.output, (await cli(() => noticePdf(ctx, id, false))).body);
        else writeFileSync(opts.output, await cli(() => noticeHtml(ctx, id, false)));
      }),
    );
  exp
    .command('payment-list <id>')
    .description('full names and ID numbers for the ecology bureau (audited)')
    .requiredOption('--output <file>')
    .option('--format <format>', 'csv | xlsx', 'xlsx')
    .action((id: string, opts: { output: string; format: string }) =>
      withContext(async (c) => {
        const f = await cli(() => exportPaymentList(rewardContext(c), { ...cliStaff(), roles: ['eco_bureau'] }, id, format(opts.format)));
        writeFileSync(opts.output, f.body, { mode: 0o600 });
      }),
    );
  exp
    .command('tides')
    .description('TIDES fare_transactions CSV of Shanghai dates [from, to], media pseudonymised')
    .requiredOption('--from <date>', 'yyyy-MM-dd')
    .requiredOption('--to <date>', 'yyyy-MM-dd')
    .requiredOption('--output <file>')
    .action((opts: { from: string; to: string; output: string }) =>
      withContext(async (c) => {
        const out = createWriteStream(opts.output);
        const n = await cli(() =>
          streamTides(rewardContext(c), { ...cliStaff(), roles: ['operator'] }, opts.from, opts.to, (chunk) =>
            new Promise<void>((resolve, reject) => out.write(chunk, (e) => (e ? reject(e) : resolve()))),
          ),
        );
        await new Promise<void>((resolve) => out.end(() => resolve()));
        process.stdout.write(`${n} fare transactions written to ${opts.output}\n`);
      }),
    );
}
