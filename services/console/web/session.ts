/**
 * Who is signed in and what their roles let them do. The table mirrors the reward service's role
 * checks so that the console only shows buttons a user may press; the server still checks every
 * request (a hidden button is a courtesy, not a control).
 */
import { api, setToken } from './api.js';
import { PERMISSIONS, ROLES, type Permission, type Role } from './permissions.js';

export { PERMISSIONS, ROLES, type Permission, type Role };

export interface StaffUser {
  userId?: string;
  username: string;
  displayName?: string | null;
  roles: Role[];
}

let current: StaffUser | null = null;

export function currentUser(): StaffUser | null {
  return current;
}

export function setCurrentUser(user: StaffUser | null): void {
  current = user;
}

export function can(permission: Permission, user: StaffUser | null = current): boolean {
  if (!user) return false;
  const allowed: readonly Role[] = PERMISSIONS[permission];
  return user.roles.some((r) => allowed.includes(r));
}

interface LoginResponse {
  token: string;
  expiresAt: string;
  roles: Role[];
}

export async function signIn(username: string, password: string): Promise<StaffUser> {
  const res = await api.post<LoginResponse>('/api/auth/login', { username, password });
  setToken(res.token);
  // ask who we are: the server's spelling of the username and the roles of this session
  current = (await restoreSession()) ?? { username, roles: res.roles };
  return current;
}

/** Restores the session after a reload; null when there is none. */
export async function restoreSession(): Promise<StaffUser | null> {
  try {
    const me = await api.get<{ userId: string; username: string; roles: string[] }>('/api/auth/me');
    current = { userId: me.userId, username: me.username, roles: me.roles.filter((r): r is Role => (ROLES as readonly string[]).includes(r)) };
    return current;
  } catch {
    current = null;
    return null;
  }
}

export async function signOut(): Promise<void> {
  try {
    await api.post('/api/auth/logout');
  } catch {
    // the session may already be gone
  }
  setToken(null);
  current = null;
}
