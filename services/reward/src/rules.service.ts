/** The rules in force for a programme year: the office's stored version, else the default. */
import { findStoredRules, type Database, type Transaction, type DB } from '@ridetally/db';
import { defaultRules, type Rules } from '@ridetally/domain';

export async function rulesForYear(db: Database | Transaction<DB>, year: number): Promise<Rules> {
  const stored = await findStoredRules(db, year);
  if (!stored) return defaultRules(year);
  return { ...defaultRules(year), ...(stored.rules as Partial<Rules>), version: stored.version, year };
}
