/**
 * What every composition root needs from the environment: the keyring and the database, chosen by
 * the same rules everywhere (SPEC §6). With DATABASE_URL the master key is required; without it the
 * embedded mode keeps PGlite files and a generated master key in DATA_DIR.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Env } from '@ridetally/config';
import { openDatabase, type DatabaseHandle } from '@ridetally/db';
import { generateMasterKey, KeyError, keyringFromEnv, type Keyring } from '@ridetally/keyring';

export const MASTER_KEY_FILE = 'master.key';
export const PGLITE_DIR = 'pglite';

export function isEmbedded(env: Env): boolean {
  return !env.DATABASE_URL;
}

export function dataDir(env: Env): string {
  return resolve(env.DATA_DIR);
}

/** True when the embedded data folder has no database yet (first start). */
export function isNewDataDir(env: Env): boolean {
  return !existsSync(join(dataDir(env), PGLITE_DIR, 'PG_VERSION'));
}

/**
 * The keyring. Scaled mode: RIDETALLY_MASTER_KEY must be set and valid (a start-up error otherwise).
 * Embedded mode: the variable wins if set, else DATA_DIR/master.key, generated on first start.
 */
export function resolveKeyring(env: Env): Keyring {
  if (env.RIDETALLY_MASTER_KEY) return keyringFromEnv(env.RIDETALLY_MASTER_KEY, env.RIDETALLY_MASTER_KEY_PREVIOUS);
  if (!isEmbedded(env)) {
    throw new KeyError('RIDETALLY_MASTER_KEY is required when DATABASE_URL is set (32 random bytes, base64)');
  }
  const dir = dataDir(env);
  const file = join(dir, MASTER_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, generateMasterKey() + '\n', { mode: 0o600, flag: 'wx' });
  }
  return keyringFromEnv(readFileSync(file, 'utf8'), env.RIDETALLY_MASTER_KEY_PREVIOUS);
}

/** Opens PostgreSQL (DATABASE_URL) or the embedded PGlite in DATA_DIR. */
export function openDatabaseFromEnv(env: Env, applicationName = 'ridetally'): Promise<DatabaseHandle> {
  return openDatabase({
    url: env.DATABASE_URL,
    dataDir: isEmbedded(env) ? join(dataDir(env), PGLITE_DIR) : undefined,
    poolSize: env.DATABASE_POOL_SIZE,
    applicationName,
  });
}
