import type { Database, Kysely, Transaction, DB } from '@ridetally/db';
import type { Keyring } from '@ridetally/keyring';

/** What the registry's services need: the database, the keyring and a clock (tests control time). */
export interface RegistryDeps {
  db: Database;
  keyring: Keyring;
  now: () => Date;
}

export type Db = Kysely<DB> | Transaction<DB>;
