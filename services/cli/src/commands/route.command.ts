/** `ridetally route set-city <route_id> true|false` and `route list`. */
import type { Command } from 'commander';
import { findRoutes } from '@ridetally/db';
import { AppError } from '@ridetally/http';
import { setRouteCityFlag } from '@ridetally/registry';
import { CliError, withContext } from '../context';

export function registerRoute(program: Command): void {
  const cmd = program.command('route').description('the route registry (R3 city-area flag)');
  cmd
    .command('set-city <route_id> <flag>')
    .description('mark a route city-area (true) or not (false); its riders are re-counted')
    .action((routeId: string, flag: string) =>
      withContext(async ({ handle }) => {
        if (flag !== 'true' && flag !== 'false') throw new CliError('flag must be true or false');
        try {
          const changed = await setRouteCityFlag({ db: handle.db, now: () => new Date() }, routeId, flag === 'true');
          process.stdout.write(changed ? `route ${routeId}: city-area ${flag}\n` : `route ${routeId}: already city-area ${flag}\n`);
        } catch (err) {
          if (err instanceof AppError) throw new CliError(err.message);
          throw err;
        }
      }),
    );
  cmd
    .command('list')
    .description('registered routes')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      withContext(async ({ handle }) => {
        const routes = await findRoutes(handle.db);
        if (opts.json) {
          process.stdout.write(JSON.stringify(routes) + '\n');
          return;
        }
        for (const r of routes) {
          process.stdout.write(`${r.route_id}\t${r.short_name ?? ''}\t${r.long_name ?? ''}\t${r.network_id ?? ''}\t${r.is_city ? 'city' : 'non-city'}\n`);
        }
      }),
    );
}
