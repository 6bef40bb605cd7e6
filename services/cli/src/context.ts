/** What CLI commands share: parsed env, the database and keyring, clean exits. */
import { ConfigError, loadEnv, type Env } from '@ridetally/config';
import type { DatabaseHandle } from '@ridetally/db';
import { KeyError, type Keyring } from '@ridetally/keyring';
import { openDatabaseFromEnv, resolveKeyring } from '@ridetally/runtime';

export interface CliContext {
  env: Env;
  handle: DatabaseHandle;
  keyring: Keyring;
}

/** Runs fn with an open database and keyring, closing them afterwards. */
export async function withContext<T>(fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  const env = loadEnv();
  const keyring = resolveKeyring(env);
  const handle = await openDatabaseFromEnv(env, 'ridetally-cli');
  try {
    return await fn({ env, handle, keyring });
  } finally {
    await handle.close();
  }
}

/** A user-facing error: message on stderr, exit 1 (2 for configuration problems). */
export class CliError extends Error {
  override name = 'CliError';
}

export function exitWithError(err: unknown): never {
  const known = err instanceof CliError || err instanceof ConfigError || err instanceof KeyError;
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`ridetally: ${known ? message : `unexpected error: ${message}`}\n`);
  process.exit(err instanceof ConfigError || err instanceof KeyError ? 2 : 1);
}
