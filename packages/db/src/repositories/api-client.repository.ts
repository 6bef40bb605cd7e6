/** Rider-app integration clients (掌上公交 backend). Tokens are stored as keyed hashes only. */
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

export interface ApiClientRow {
  client_id: string;
  name: string;
}

export async function insertApiClient(db: Db, client: { client_id: string; name: string; token_hash: string }): Promise<void> {
  await db.insertInto('api_clients').values(client).execute();
}

/**
 * The active (not revoked) client whose token hashes to this value, or to one of these values
 * (during a master-key rotation: `keyring.tokenHashCandidates(token)`, the new key's hash first).
 */
export async function findActiveApiClientByTokenHash(db: Db, tokenHash: string | readonly string[]): Promise<ApiClientRow | undefined> {
  const hashes = typeof tokenHash === 'string' ? [tokenHash] : [...tokenHash];
  if (hashes.length === 0) return undefined;
  return db
    .selectFrom('api_clients')
    .select(['client_id', 'name'])
    .where('token_hash', 'in', hashes)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

/** Revokes a client; returns false when it does not exist or is already revoked. */
export async function revokeApiClient(db: Db, clientId: string, at: Date): Promise<boolean> {
  const r = await db
    .updateTable('api_clients')
    .set({ revoked_at: at })
    .where('client_id', '=', clientId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
