/** `ridetally rankings --period 2022-Q3|2022 [--tie-policy …] [--limit N] --format csv|json`. */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { TIE_POLICIES, type TiePolicy } from '@ridetally/domain';
import { liveRanking, rankingCells, RANKING_COLUMNS, toCsv } from '@ridetally/reward';
import { CliError, withContext } from '../context';

export function registerRankings(program: Command): void {
  program
    .command('rankings')
    .description('live ranking of a quarter or a year (rank ≤ 2000 with ties; awards for a year)')
    .requiredOption('--period <period>', '2022-Q3 or 2022')
    .option('--tie-policy <policy>', `${TIE_POLICIES.join(' | ')}`, 'shared')
    .option('--limit <n>', 'first N rows only')
    .option('--format <format>', 'csv | json', 'csv')
    .option('--output <file>', 'write to a file (CSV gets a UTF-8 BOM for Excel) instead of standard output')
    .action((opts: { period: string; tiePolicy: string; limit?: string; format: string; output?: string }) =>
      withContext(async ({ handle }) => {
        if (!(TIE_POLICIES as readonly string[]).includes(opts.tiePolicy)) throw new CliError(`--tie-policy must be ${TIE_POLICIES.join(' or ')}`);
        if (opts.format !== 'csv' && opts.format !== 'json') throw new CliError('--format must be csv or json');
        const limit = opts.limit === undefined ? undefined : Number(opts.limit);
        if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new CliError('--limit must be a positive integer');
        let r;
        try {
          r = await liveRanking(handle.db, opts.period, opts.tiePolicy as TiePolicy, limit);
        } catch (e) {
          throw new CliError(e instanceof Error ? e.message : String(e));
        }
        const out =
          opts.format === 'json'
            ? JSON.stringify(
                r.rows.map((x) => ({ rank: x.rank, person_id: x.personId, name_masked: x.nameMasked, employer_code: x.employerCode, rides: x.rides, award_cny: x.awardCny })),
                null,
                2,
              ) + '\n'
            : toCsv(RANKING_COLUMNS, rankingCells(r.rows), Boolean(opts.output));
        if (opts.output) writeFileSync(opts.output, out);
        else process.stdout.write(out);
      }),
    );
}
