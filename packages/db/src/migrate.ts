import { Migrator, type Kysely, type MigrationResultSet } from 'kysely';
import { migrations } from './migrations/index';

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** Applies every pending migration; throws MigrationError naming the one that failed. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
  });
  const result: MigrationResultSet = await migrator.migrateToLatest();
  const failed = result.results?.find((r) => r.status === 'Error');
  if (result.error || failed) {
    const cause = result.error instanceof Error ? result.error.message : String(result.error);
    throw new MigrationError(`migration ${failed?.migrationName ?? '?'} failed: ${cause}`);
  }
  return (result.results ?? []).map((r) => r.migrationName);
}

/** Names of the migrations known to the code, in order. */
export function knownMigrations(): string[] {
  return Object.keys(migrations).sort();
}
