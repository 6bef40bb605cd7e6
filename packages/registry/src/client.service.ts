/**
 * Rider-app integration clients. The token is shown once at creation and stored only as a keyed hash
 * (keyring `token` key), so a database leak does not leak working credentials.
 */
import { randomBytes } from 'node:crypto';
import { findActiveApiClientByTokenHash, insertApiClient, type ApiClientRow } from '@ridetally/db';
import type { RegistryDeps } from './deps';

export interface NewClientCredential {
  clientId: string;
  token: string;
}

export async function createApiClient(deps: Pick<RegistryDeps, 'db' | 'keyring'>, name: string): Promise<NewClientCredential> {
  const clientId = `app_${randomBytes(6).toString('hex')}`;
  const token = `rta_${randomBytes(32).toString('base64url')}`;
  await insertApiClient(deps.db, { client_id: clientId, name: name.trim(), token_hash: deps.keyring.hashToken(token) });
  return { clientId, token };
}

/**
 * The active client holding this token, or undefined. During a master-key rotation the token is
 * matched under the previous key too (a token issued before the new key was deployed), until the
 * previous key is removed; such tokens are not re-hashed here (docs/decisions.md): they are the ones
 * `keys rotate` lists to re-issue.
 */
export async function authenticateApiClient(deps: Pick<RegistryDeps, 'db' | 'keyring'>, token: string): Promise<ApiClientRow | undefined> {
  if (!token || token.length > 200) return undefined;
  return findActiveApiClientByTokenHash(deps.db, deps.keyring.tokenHashCandidates(token));
}
