/**
 * `pnpm ridetally <command>`: the operators' and admins' command line. Each command group lives in
 * commands/<group>.command.ts and registers itself here.
 */
import { Command, CommanderError } from 'commander';
import { registerMigrate } from './commands/migrate.command';
import { registerDevice } from './commands/device.command';
import { registerImport } from './commands/import.command';
import { registerRoute } from './commands/route.command';
import { registerVehicleCommands } from './commands/vehicle.command';
import { registerClient } from './commands/client.command';
import { registerPerson } from './commands/person.command';
import { registerRecompute } from './commands/recompute.command';
import { registerCounts } from './commands/counts.command';
import { registerSimulate } from './commands/simulate.command';
import { registerVerify } from './commands/verify.command';
import { registerUser } from './commands/user.command';
import { registerRankings } from './commands/rankings.command';
import { registerSnapshot } from './commands/snapshot.command';
import { registerExport } from './commands/export.command';
import { registerAudit } from './commands/audit.command';
import { registerAssessment } from './commands/assessment.command';
import { registerKeys } from './commands/keys.command';
import { exitWithError } from './context';

const program = new Command('ridetally')
  .description('ridetally: Lüliang free-bus programme administration')
  .showHelpAfterError()
  .exitOverride();

registerMigrate(program);
registerRecompute(program);
registerCounts(program);
registerDevice(program);
registerImport(program);
registerRoute(program);
registerVehicleCommands(program);
registerClient(program);
registerPerson(program);
registerSimulate(program);
registerVerify(program);

registerUser(program);
registerRankings(program);
registerSnapshot(program);
registerExport(program);
registerAudit(program);
registerAssessment(program);
registerKeys(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  exitWithError(err);
}
