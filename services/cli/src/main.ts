/**
 * `pnpm ridetally <command>`: the operators' and admins' command line. Each command group lives in
 * commands/<group>.command.ts and registers itself here.
 */
import { Command, CommanderError } from 'commander';
import { registerMigrate } from './commands/migrate.command';
import { registerDevice } from './commands/device.command';
import { exitWithError } from './context';

const program = new Command('ridetally')
  .description('ridetally: Lüliang free-bus programme administration')
  .showHelpAfterError()
  .exitOverride();

registerMigrate(program);
registerDevice(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  exitWithError(err);
}
