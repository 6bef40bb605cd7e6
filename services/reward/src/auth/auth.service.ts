/**
 * Staff login: scrypt passwords, random session tokens stored as keyed hashes, lock-out after
 * MAX_FAILURES consecutive failures for LOCK_MINUTES. Every login outcome and user change is audited
 * (never the password or token).
 */
import { randomBytes } from 'node:crypto';
import {
  findActiveSession,
  findStaffUserByUsername,
  insertSession,
  insertStaffUser,
  listStaffUsers,
  recordLoginFailure,
  resetLoginFailures,
  revokeSession,
  type ActiveSession,
  type StaffRole,
} from '@ridetally/db';
import { AppError } from '@ridetally/http';
import { audit } from '../audit.service';
import type { RewardContext } from '../deps';
import { checkPasswordStrength, hashPassword, verifyPassword } from './password';

export const MAX_FAILURES = 5;
export const LOCK_MINUTES = 15;
export const SESSION_HOURS = 12;

/** A fixed hash to spend the same time on unknown usernames as on known ones. */
let dummyHash: Promise<string> | undefined;

export async function login(ctx: RewardContext, username: string, password: string): Promise<{ token: string; expiresAt: Date; roles: StaffRole[] }> {
  const now = ctx.now();
  const user = await findStaffUserByUsername(ctx.db, username);
  if (!user || user.disabled_at) {
    dummyHash ??= hashPassword('not a password', ctx.scryptCost);
    await verifyPassword(password, await dummyHash);
    await audit(ctx.db, now, 'anonymous', 'auth.login_failed', null, null, { reason: 'unknown_user' });
    throw new AppError('unauthorized', 'username or password is wrong');
  }
  const lockedUntil = user.locked_until;
  if (lockedUntil && lockedUntil > now) {
    await audit(ctx.db, now, `${user.username} (${user.user_id})`, 'auth.login_refused_locked', `user:${user.user_id}`, null);
    throw new AppError('unauthorized', `account is locked until ${lockedUntil.toISOString()} after repeated failures`);
  }
  if (!(await verifyPassword(password, user.password_hash))) {
    const after = await recordLoginFailure(ctx.db, user.user_id, MAX_FAILURES, new Date(now.getTime() + LOCK_MINUTES * 60_000));
    const locked = after.locked_until !== null && (after.locked_until) > now;
    await audit(ctx.db, now, `${user.username} (${user.user_id})`, locked ? 'auth.locked' : 'auth.login_failed', `user:${user.user_id}`, null);
    throw new AppError('unauthorized', 'username or password is wrong');
  }
  await resetLoginFailures(ctx.db, user.user_id);
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + SESSION_HOURS * 3600_000);
  await insertSession(ctx.db, { tokenHash: ctx.keyring.hashToken(token), userId: user.user_id, createdAt: now, expiresAt });
  await audit(ctx.db, now, `${user.username} (${user.user_id})`, 'auth.login', `user:${user.user_id}`, null);
  return { token, expiresAt, roles: user.roles };
}

/**
 * The session of a token. During a master-key rotation a session opened before the new key was
 * deployed (hashed under the previous key) still authenticates, until `keys rotate` revokes the
 * sessions created before the rotation started or the previous key is removed.
 */
export async function authenticate(ctx: RewardContext, token: string): Promise<ActiveSession | undefined> {
  if (!token || token.length > 200) return undefined;
  return findActiveSession(ctx.db, ctx.keyring.tokenHashCandidates(token), ctx.now());
}

export async function logout(ctx: RewardContext, token: string, actor: ActiveSession): Promise<void> {
  const now = ctx.now();
  await revokeSession(ctx.db, ctx.keyring.tokenHashCandidates(token), now);
  await audit(ctx.db, now, { userId: actor.userId, username: actor.username, roles: actor.roles }, 'auth.logout', `user:${actor.userId}`, null);
}

export async function createStaffUser(
  ctx: RewardContext,
  actor: string,
  input: { username: string; roles: StaffRole[]; password: string; displayName?: string | null | undefined },
): Promise<{ userId: string; username: string; roles: StaffRole[] }> {
  const weak = checkPasswordStrength(input.password);
  if (weak) throw new AppError('validation_failed', weak);
  const passwordHash = await hashPassword(input.password, ctx.scryptCost);
  return ctx.db.transaction().execute(async (trx) => {
    if (await findStaffUserByUsername(trx, input.username)) throw new AppError('conflict', `user ${input.username} exists`);
    const row = await insertStaffUser(trx, { username: input.username, displayName: input.displayName ?? null, roles: input.roles, passwordHash });
    await audit(trx, ctx.now(), actor, 'user.create', `user:${row.user_id}`, null, { username: row.username, roles: row.roles });
    return { userId: row.user_id, username: row.username, roles: row.roles };
  });
}

export async function listUsers(ctx: RewardContext) {
  const rows = await listStaffUsers(ctx.db);
  return rows.map((u) => ({
    userId: u.user_id,
    username: u.username,
    displayName: u.display_name,
    roles: u.roles,
    locked: u.locked_until !== null && (u.locked_until) > ctx.now(),
    disabled: u.disabled_at !== null,
  }));
}
