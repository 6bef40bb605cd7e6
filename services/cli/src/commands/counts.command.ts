import type { Command } from 'commander';
import { findPeriodCounts } from '@ridetally/db';
import { formatPeriod, parsePeriod, PeriodError } from '@ridetally/domain';
import { CliError, withContext } from '../context';

/** `ridetally counts --period <p> --format csv|json`: live counted rides, one row per person with ≥ 1. */
export function registerCounts(program: Command): void {
  program
    .command('counts')
    .description(
      'print live counted rides of a period (person_id,rides), one row per person with at least one',
    )
    .requiredOption('--period <period>', 'a quarter (2022-Q3) or a year (2022)')
    .option('--format <format>', 'csv or json', 'csv')
    .action((options: { period: string; format: string }) =>
      withContext(async ({ handle }) => {
        let period: string;
        try {
          period = formatPeriod(parsePeriod(options.period));
        } catch (e) {
          if (e instanceof PeriodError) throw new CliError(e.message);
          throw e;
        }
        if (options.format !== 'csv' && options.format !== 'json')
          throw new CliError('--format must be csv or json');
        const rows = await findPeriodCounts(handle.db, period, 1);
        if (options.format === 'json') {
          process.stdout.write(
            JSON.stringify(rows.map((r) => ({ person_id: r.personId, rides: r.rides }))) + '\n',
          );
        } else {
          process.stdout.write('person_id,rides\n' + rows.map((r) => `${r.personId},${r.rides}\n`).join(''));
        }
      }),
    );
}
