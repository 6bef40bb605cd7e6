/** `ridetally assessment volume|score|enter|target|budget`: operator scoring (R14-R17). */
import type { Command } from 'commander';
import { ASSESSMENT_ITEMS, type AssessmentItem } from '@ridetally/domain';
import { enterItem, operatorScore, setBudget, setTarget, volumeReport } from '@ridetally/reward';
import { CliError, withContext } from '../context';
import { cliStaff, rewardContext } from './snapshot.command';

function print(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}

function int(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`${what} must be a whole non-negative number`);
  return n;
}

async function cli<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e));
  }
}

export function registerAssessment(program: Command): void {
  const a = program.command('assessment').description('operator volume, score and subsidy');
  a.command('volume').requiredOption('--year <year>').action((o: { year: string }) => withContext(async (c) => print(await cli(() => volumeReport(rewardContext(c), int(o.year, '--year'))))));
  a.command('score').requiredOption('--year <year>').action((o: { year: string }) => withContext(async (c) => print(await cli(() => operatorScore(rewardContext(c), int(o.year, '--year'))))));
  a.command('enter')
    .description('enter one of the five non-volume items')
    .requiredOption('--year <year>')
    .requiredOption('--item <item>', ASSESSMENT_ITEMS.join(' | '))
    .requiredOption('--score <score>')
    .option('--note <note>')
    .action((o: { year: string; item: string; score: string; note?: string }) =>
      withContext(async (c) => {
        if (!(ASSESSMENT_ITEMS as readonly string[]).includes(o.item)) throw new CliError(`--item must be one of ${ASSESSMENT_ITEMS.join(', ')}`);
        print(await cli(() => enterItem(rewardContext(c), { ...cliStaff(), roles: ['assessor'] }, int(o.year, '--year'), o.item as AssessmentItem, Number(o.score), o.note ?? null)));
      }),
    );
  a.command('target')
    .requiredOption('--year <year>')
    .requiredOption('--target <boardings>')
    .option('--reason <reason>')
    .action((o: { year: string; target: string; reason?: string }) =>
      withContext(async (c) => print(await cli(() => setTarget(rewardContext(c), { ...cliStaff(), roles: ['office'] }, int(o.year, '--year'), int(o.target, '--target'), o.reason ?? null)))),
    );
  a.command('budget')
    .requiredOption('--year <year>')
    .requiredOption('--operating <cny>')
    .requiredOption('--pre-programme <cny>')
    .action((o: { year: string; operating: string; preProgramme: string }) =>
      withContext(async (c) =>
        print(
          await cli(() =>
            setBudget(rewardContext(c), { ...cliStaff(), roles: ['office'] }, int(o.year, '--year'), { operatingSubsidyCny: int(o.operating, '--operating'), preProgrammeSubsidyCny: int(o.preProgramme, '--pre-programme') }, null),
          ),
        ),
      ),
    );
}
