/**
 * `ridetally verify --against <dir>`: compares the platform's live counts (person_period_counts,
 * the counts command's code path), its live rankings (the reward service's liveRanking, shared
 * ties) and its daily volume (volume_daily) with the ground truth the simulator wrote in
 * <dir>/ground-truth, and prints every difference; exit 1 when there is one.
 *
 * Persons: <dir>/persons.csv (external_ref,person_id, written by the HTTP driver) when present,
 * otherwise the keyed hash of each rider's ID number (<dir>/city/riders.csv) looked up in the
 * persons table, as the platform itself finds a person. Output names external refs and person
 * ids only, never ID numbers or names.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { findPeriodCounts, findPersonsByIdHashes, findVolumeDaily } from '@ridetally/db';
import { liveRanking } from '@ridetally/reward';
import {
  addDays,
  compareCounts,
  compareRankings,
  compareVolume,
  expectedList,
  parseCsv,
  type CountDifference,
  type RankDifference,
  type VolumeDifference,
} from '@ridetally/simulator';
import { CliError, withContext, type CliContext } from '../context';

interface VerifyOptions {
  against: string;
  period?: string[];
  rankings: boolean;
  volume: boolean;
  json?: boolean;
  max: string;
}

async function readCsvFile(path: string): Promise<Record<string, string>[]> {
  if (!existsSync(path)) throw new CliError(`${path}: not found (is this a simulator output folder?)`);
  return parseCsv(await readFile(path, 'utf8'));
}

async function personMapping(
  dir: string,
  ctx: CliContext,
): Promise<{ map: Map<string, string>; source: string }> {
  const mapFile = join(dir, 'persons.csv');
  if (existsSync(mapFile)) {
    return {
      map: new Map((await readCsvFile(mapFile)).map((r) => [r.external_ref!, r.person_id!])),
      source: 'persons.csv',
    };
  }
  const riders = await readCsvFile(join(dir, 'city/riders.csv'));
  const refByHash = new Map(riders.map((r) => [ctx.keyring.hashIdNumber(r.id_number!), r.external_ref!]));
  const map = new Map<string, string>();
  const hashes = [...refByHash.keys()];
  for (let i = 0; i < hashes.length; i += 1000) {
    for (const person of await findPersonsByIdHashes(ctx.handle.db, hashes.slice(i, i + 1000))) {
      map.set(refByHash.get(person.id_hash)!, person.person_id);
    }
  }
  return { map, source: 'keyed ID-number lookup' };
}

function printDifferences(
  counts: CountDifference[],
  rankings: RankDifference[],
  volume: VolumeDifference[],
  max: number,
): void {
  const out = (line: string) => process.stdout.write(line + '\n');
  const who = (ref: string | null, id: string | null) => `${ref ?? '(no ref)'} ${id ?? '(not registered)'}`;
  for (const d of counts.slice(0, max))
    out(
      `counts  ${d.period}  ${who(d.externalRef, d.personId)}  expected ${d.expected}  platform ${d.actual}`,
    );
  if (counts.length > max) out(`counts: … and ${counts.length - max} more`);
  const fmt = (r: { rank: number; rides: number } | null) =>
    r ? `rank ${r.rank} rides ${r.rides}` : 'absent';
  for (const d of rankings.slice(0, max))
    out(
      `ranking ${d.period}  ${who(d.externalRef, d.personId)}  expected ${fmt(d.expected)}  platform ${fmt(d.actual)}`,
    );
  if (rankings.length > max) out(`rankings: … and ${rankings.length - max} more`);
  for (const d of volume.slice(0, max)) {
    out(
      `volume  ${d.serviceDate} ${d.routeId}  expected ${d.expected.boardings} boardings/${d.expected.taps} taps  platform ${d.actual.boardings}/${d.actual.taps}`,
    );
  }
  if (volume.length > max) out(`volume: … and ${volume.length - max} more`);
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description(
      "compare the platform's counts, rankings and volume with a simulation's ground truth; exit 1 on any difference",
    )
    .requiredOption('--against <dir>', 'the simulator output folder (with ground-truth/)')
    .option('--period <period...>', 'only these periods (default: every period of the ground truth)')
    .option('--no-rankings', 'do not compare the live rankings')
    .option('--no-volume', 'do not compare the daily volume')
    .option('--json', 'print the differences as JSON')
    .option('--max <n>', 'differences printed per kind', '50')
    .action(async (opts: VerifyOptions) => {
      // Check the folder before opening any database (the embedded one would be created).
      const dir = resolve(opts.against);
      const truthDir = join(dir, 'ground-truth');
      const summaryFile = join(truthDir, 'summary.json');
      if (!existsSync(summaryFile))
        throw new CliError(`${summaryFile}: not found (run the simulation to the end first)`);
      const summary = JSON.parse(await readFile(summaryFile, 'utf8')) as {
        periods: string[];
        start: string;
        days: number;
      };
      const periods = opts.period ?? summary.periods;
      for (const p of periods)
        if (!summary.periods.includes(p))
          throw new CliError(`period ${p} is not in the ground truth (${summary.periods.join(', ')})`);
      await withContext(async (ctx) => {
        const { map, source } = await personMapping(dir, ctx);
        const counts: CountDifference[] = [];
        const rankings: RankDifference[] = [];
        for (const period of periods) {
          const expected = (await readCsvFile(join(truthDir, `counts-${period}.csv`))).map((r) => ({
            key: r.external_ref!,
            rides: Number(r.rides),
          }));
          const actual = (await findPeriodCounts(ctx.handle.db, period, 1)).map((r) => ({
            key: r.personId,
            rides: r.rides,
          }));
          counts.push(...compareCounts(period, expected, actual, map));
          if (opts.rankings) {
            const ranked = (await readCsvFile(join(truthDir, `rankings-${period}.csv`))).map((r) => ({
              key: r.external_ref!,
              rank: Number(r.rank),
              rides: Number(r.rides),
            }));
            const live = await liveRanking(ctx.handle.db, period, 'shared');
            rankings.push(
              ...compareRankings(
                period,
                expectedList(period, ranked),
                live.rows.map((r) => ({ key: r.personId, rank: r.rank, rides: r.rides })),
                map,
              ),
            );
          }
        }
        let volume: VolumeDifference[] = [];
        if (opts.volume) {
          const expected = (await readCsvFile(join(truthDir, 'volume-daily.csv'))).map((r) => ({
            serviceDate: r.service_date!,
            routeId: r.route_id!,
            boardings: Number(r.boardings),
            taps: Number(r.taps),
          }));
          const actual = await findVolumeDaily(
            ctx.handle.db,
            summary.start,
            addDays(summary.start, summary.days + 1),
          );
          volume = compareVolume(expected, actual);
        }

        const total = counts.length + rankings.length + volume.length;
        if (opts.json)
          process.stdout.write(
            JSON.stringify({ periods, personMapping: source, persons: map.size, counts, rankings, volume }) +
              '\n',
          );
        else {
          printDifferences(counts, rankings, volume, Number(opts.max) || 50);
          process.stdout.write(
            `verify: ${periods.join(', ')} against ${dir} (persons by ${source}, ${map.size} mapped): ` +
              `${counts.length} count, ${rankings.length} ranking, ${volume.length} volume difference(s)\n`,
          );
        }
        if (total > 0) throw new CliError(`${total} difference(s) from the ground truth`);
      });
    });
}
