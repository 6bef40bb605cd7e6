/**
 * `ridetally import employers|employees|media <file>` (CSV or XLSX, SPEC §5 columns) and
 * `ridetally import gtfs <dir> [--city-network <id>]`. The work is in @ridetally/registry; this
 * prints the report (every bad line and why) and shows a progress bar on a terminal.
 */
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { AppError } from '@ridetally/http';
import {
  importEmployees,
  importEmployers,
  importGtfs,
  importMedia,
  readTableFile,
  TableReadError,
  type ImportProgress,
  type ImportResult,
  type RegistryDeps,
  type Table,
} from '@ridetally/registry';
import { CliError, withContext } from '../context';

/** A progress bar on stderr, only on a terminal and only for files worth waiting for. */
function terminalProgress(): { onProgress: ImportProgress | undefined; stop(): void } {
  if (!process.stderr.isTTY) return { onProgress: undefined, stop: () => undefined };
  let bar: cliProgress.SingleBar | undefined;
  let phase = '';
  return {
    onProgress(name, done, total) {
      if (total < 1000) return;
      if (name !== phase) {
        bar?.stop();
        phase = name;
        bar = new cliProgress.SingleBar(
          { stream: process.stderr, format: `${name.padEnd(10)} [{bar}] {percentage}% {value}/{total}`, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done);
      } else {
        bar?.update(done);
      }
    },
    stop: () => bar?.stop(),
  };
}

export function printImportResult(what: string, result: ImportResult<object>, json: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify(result) + '\n');
  } else if (result.applied) {
    const changes = Object.entries(result.changes).map(([k, v]) => `${k} ${String(v)}`).join(', ');
    process.stdout.write(`${what}: ${result.rows} rows valid; ${changes}\n`);
  } else {
    for (const p of result.problems) process.stderr.write(`line ${p.line}: ${p.message}\n`);
  }
  if (!result.applied) {
    throw new CliError(`${what}: ${result.problems.length} problem(s) in ${result.rows} rows; nothing was imported`);
  }
}

async function readTable(file: string): Promise<Table> {
  try {
    return await readTableFile(file);
  } catch (err) {
    if (err instanceof TableReadError) throw new CliError(`${file}: ${err.message}`);
    if ((err as { code?: string }).code === 'ENOENT') throw new CliError(`${file}: no such file`);
    throw err;
  }
}

type FileImport = (deps: RegistryDeps, table: Table, options: { onProgress?: ImportProgress | undefined }) => Promise<ImportResult<object>>;

function fileImportCommand(parent: Command, name: string, description: string, run: FileImport): void {
  parent
    .command(`${name} <file>`)
    .description(description)
    .option('--json', 'print the report as JSON')
    .action((file: string, opts: { json?: boolean }) =>
      withContext(async ({ handle, keyring }) => {
        const table = await readTable(file);
        const progress = terminalProgress();
        try {
          const result = await run({ db: handle.db, keyring, now: () => new Date() }, table, { onProgress: progress.onProgress });
          progress.stop();
          printImportResult(`import ${name}`, result, opts.json ?? false);
        } catch (err) {
          progress.stop();
          if (err instanceof AppError) throw new CliError(err.message);
          throw err;
        }
      }),
    );
}

export function registerImport(program: Command): void {
  const cmd = program.command('import').description('import registry files (all-or-nothing per file; re-importing the same file changes nothing)');
  fileImportCommand(cmd, 'employers', 'employers CSV/XLSX: code,name,type,city_area', importEmployers);
  fileImportCommand(
    cmd,
    'employees',
    'employee roster CSV/XLSX: id_number,name,employer_code,in_service_from,in_service_to (the file is authoritative for each person it lists)',
    importEmployees,
  );
  fileImportCommand(cmd, 'media', 'media bindings CSV/XLSX: id_number,media_type,media_kind,media_id,valid_from,valid_to', importMedia);
  cmd
    .command('gtfs <dir>')
    .description('routes from a GTFS feed (agency.txt, routes.txt, optional networks.txt + route_networks.txt)')
    .option('--city-network <network_id>', 'only this network’s routes are city-area (default: every imported route)')
    .option('--json', 'print the report as JSON')
    .action((dir: string, opts: { cityNetwork?: string; json?: boolean }) =>
      withContext(async ({ handle }) => {
        const result = await importGtfs({ db: handle.db, now: () => new Date() }, dir, { cityNetwork: opts.cityNetwork });
        if (opts.json) process.stdout.write(JSON.stringify(result) + '\n');
        if (!result.applied) {
          if (!opts.json) for (const p of result.problems) process.stderr.write(`${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}\n`);
          throw new CliError(`import gtfs: ${result.problems.length} problem(s); nothing was imported`);
        }
        if (!opts.json) {
          const c = result.changes;
          process.stdout.write(`import gtfs: ${result.routes} routes (${result.cityRoutes} city-area); created ${c.created}, updated ${c.updated}, unchanged ${c.unchanged}\n`);
        }
      }),
    );
}
