/** Staff sessions: the token is never stored, only its keyed hash (keyring 'token' purpose). */
import type { Kysely, Transaction } from 'kysely';
import type { DB, StaffRole } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

// types.ts declares generated columns as Generated<Timestamp> / Generated<Int8>, which Kysely does not
// unwrap (a nested ColumnType): these casts state the real runtime types (Date, number).

export async function insertSession(db: Db, s: { tokenHash: string; userId: string; createdAt: Date; expiresAt: Date }): Promise<void> {
  await db
    .insertInto('staff_sessions')
    .values({ token_hash: s.tokenHash, user_id: s.userId, created_at: s.createdAt, expires_at: s.expiresAt })
    .execute();
}

export interface ActiveSession {
  userId: string;
  username: string;
  roles: StaffRole[];
  expiresAt: Date;
}

/**
 * The session for a token hash (or one of several: during a master-key rotation
 * `keyring.tokenHashCandidates(token)`) when it is neither expired, revoked, nor its user disabled.
 */
export async function findActiveSession(db: Db, tokenHash: string | readonly string[], now: Date): Promise<ActiveSession | undefined> {
  const hashes = typeof tokenHash === 'string' ? [tokenHash] : [...tokenHash];
  if (hashes.length === 0) return undefined;
  const row = await db
    .selectFrom('staff_sessions as s')
    .innerJoin('staff_users as u', 'u.user_id', 's.user_id')
    .select(['u.user_id', 'u.username', 'u.roles', 's.expires_at'])
    .where('s.token_hash', 'in', hashes)
    .where('s.revoked_at', 'is', null)
    .where('s.expires_at', '>', now)
    .where('u.disabled_at', 'is', null)
    .executeTakeFirst();
  return row && { userId: row.user_id, username: row.username, roles: row.roles, expiresAt: row.expires_at };
}

/** Revokes the session under this token hash (or any of these: the token's hashes under each key). */
export async function revokeSession(db: Db, tokenHash: string | readonly string[], now: Date): Promise<void> {
  const hashes = typeof tokenHash === 'string' ? [tokenHash] : [...tokenHash];
  if (hashes.length === 0) return;
  await db.updateTable('staff_sessions').set({ revoked_at: now }).where('token_hash', 'in', hashes).where('revoked_at', 'is', null).execute();
}

export async function revokeUserSessions(db: Db, userId: string, now: Date): Promise<void> {
  await db.updateTable('staff_sessions').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
}
