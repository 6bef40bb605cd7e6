/** Staff accounts (SPEC §1 roles). Passwords are stored only as scrypt hashes made by the reward service. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { DB, StaffRole, StaffUsersTable } from '../types';

type Db = Kysely<DB> | Transaction<DB>;
export type StaffUserRow = Selectable<StaffUsersTable>;

export async function insertStaffUser(
  db: Db,
  user: { username: string; displayName?: string | null; roles: StaffRole[]; passwordHash: string },
): Promise<StaffUserRow> {
  return db
    .insertInto('staff_users')
    .values({ username: user.username, display_name: user.displayName ?? null, roles: user.roles, password_hash: user.passwordHash })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findStaffUserByUsername(db: Db, username: string): Promise<StaffUserRow | undefined> {
  return db.selectFrom('staff_users').selectAll().where('username', '=', username).executeTakeFirst();
}

export async function findStaffUserById(db: Db, userId: string): Promise<StaffUserRow | undefined> {
  return db.selectFrom('staff_users').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

export async function listStaffUsers(db: Db): Promise<StaffUserRow[]> {
  return db.selectFrom('staff_users').selectAll().orderBy('username').execute();
}

/** Counts a failed login; locks the account until `lockUntil` when the count reaches `maxFailures`. */
export async function recordLoginFailure(db: Db, userId: string, maxFailures: number, lockUntil: Date): Promise<StaffUserRow> {
  const row = await db
    .updateTable('staff_users')
    .set((eb) => ({ failed_logins: eb('failed_logins', '+', 1) }))
    .where('user_id', '=', userId)
    .returningAll()
    .executeTakeFirstOrThrow();
  if (row.failed_logins < maxFailures) return row;
  return db
    .updateTable('staff_users')
    .set({ locked_until: lockUntil, failed_logins: 0 })
    .where('user_id', '=', userId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function resetLoginFailures(db: Db, userId: string): Promise<void> {
  await db.updateTable('staff_users').set({ failed_logins: 0, locked_until: null }).where('user_id', '=', userId).execute();
}

export async function updateStaffUser(
  db: Db,
  userId: string,
  change: { roles?: StaffRole[]; passwordHash?: string; disabledAt?: Date | null },
): Promise<StaffUserRow | undefined> {
  return db
    .updateTable('staff_users')
    .set({
      ...(change.roles ? { roles: change.roles } : {}),
      ...(change.passwordHash ? { password_hash: change.passwordHash } : {}),
      ...(change.disabledAt !== undefined ? { disabled_at: change.disabledAt } : {}),
    })
    .where('user_id', '=', userId)
    .returningAll()
    .executeTakeFirst();
}
