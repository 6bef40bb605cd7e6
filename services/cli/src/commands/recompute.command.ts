import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { recomputePeriod } from '@ridetally/aggregator';
import { parsePeriod, PeriodError } from '@ridetally/domain';
import { CliError, withContext } from '../context';

/** `ridetally recompute --period 2022-Q3|2022 [--check]`: rebuild a period's counts and volume from raw data. */
export function registerRecompute(program: Command): void {
  program
    .command('recompute')
    .description(
      'rebuild rides, counts and volume of a period from raw data; --check compares without changing anything',
    )
    .requiredOption('--period <period>', 'a quarter (2022-Q3) or a year (2022)')
    .option('--check', 'compare with the live results, print differences, exit 1 if any')
    .action((options: { period: string; check?: boolean }) =>
      withContext(async ({ handle }) => {
        try {
          parsePeriod(options.period);
        } catch (e) {
          if (e instanceof PeriodError) throw new CliError(e.message);
          throw e;
        }
        const bar = process.stderr.isTTY
          ? new cliProgress.SingleBar(
              {
                format: 'recompute {bar} {percentage}% | {value}/{total} persons+keys | {eta_formatted}',
                stream: process.stderr,
              },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
        let started = false;
        const t0 = performance.now();
        const report = await recomputePeriod(handle.db, options.period, {
          check: options.check ?? false,
          onProgress: (done, total) => {
            if (!bar) return;
            if (!started) {
              bar.start(total, 0);
              started = true;
            }
            bar.update(done);
          },
        });
        bar?.stop();
        const seconds = (performance.now() - t0) / 1000;
        process.stdout.write(
          `${options.check ? 'checked' : 'recomputed'} ${report.period}: ${report.persons} persons, ${report.rides} rides from ${report.taps} taps, ${report.volumeKeys} volume keys in ${seconds.toFixed(1)} s\n`,
        );
        if (options.check) {
          for (const d of report.differences) process.stdout.write(`difference: ${d}\n`);
          if (report.differenceCount > report.differences.length)
            process.stdout.write(`… ${report.differenceCount - report.differences.length} more\n`);
          if (report.differenceCount > 0) {
            process.stdout.write(`${report.differenceCount} difference(s)\n`);
            process.exitCode = 1;
          } else process.stdout.write('no differences\n');
        }
      }),
    );
}
