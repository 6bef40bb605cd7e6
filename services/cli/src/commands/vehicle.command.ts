/** `ridetally vehicle add <vehicle_id> [--plate] [--label]` and `vehicle list`. */
import type { Command } from 'commander';
import { findVehicles } from '@ridetally/db';
import { AppError } from '@ridetally/http';
import { registerVehicle } from '@ridetally/registry';
import { CliError, withContext } from '../context';

export function registerVehicleCommands(program: Command): void {
  const cmd = program.command('vehicle').description('vehicles (plate and fleet label)');
  cmd
    .command('add <vehicle_id>')
    .description('register a vehicle, or update its plate/label')
    .option('--plate <plate>', 'licence plate, e.g. 晋J·12345')
    .option('--label <label>', 'fleet number or label')
    .action((vehicleId: string, opts: { plate?: string; label?: string }) =>
      withContext(async ({ handle }) => {
        try {
          const { created } = await registerVehicle({ db: handle.db }, { vehicleId, plate: opts.plate, label: opts.label });
          process.stdout.write(`vehicle ${vehicleId} ${created ? 'registered' : 'updated'}\n`);
        } catch (err) {
          if (err instanceof AppError) throw new CliError(err.message);
          throw err;
        }
      }),
    );
  cmd
    .command('list')
    .description('registered vehicles')
    .action(() =>
      withContext(async ({ handle }) => {
        for (const v of await findVehicles(handle.db)) process.stdout.write(`${v.vehicle_id}\t${v.plate ?? ''}\t${v.label ?? ''}\n`);
      }),
    );
}
