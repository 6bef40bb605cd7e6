/**
 * Who is signed in and what their roles let them do. The table mirrors the reward service's role
 * checks so that the console only shows buttons a user may press; the server still checks every
 * request (a hidden button is a courtesy, not a control).
 */
import { api, setToken } from './api.js';

export const ROLES = ['operator', 'office', 'eco_bureau', 'assessor', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface StaffUser {
  userId?: string;
  username: string;
  displayName?: string | null;
  roles: Role[];
}

const ALL: readonly Role[] = ROLES;
/** The reward service's LIST_READERS and SCORE_READERS (services/reward/src/roles.ts). */
const LIST_READERS: readonly Role[] = ['operator', 'office', 'eco_bureau', 'auditor'];
const SCORE_READERS: readonly Role[] = ['assessor', 'office', 'operator', 'eco_bureau', 'auditor'];

/** Action → roles that may perform it, as the reward service's endpoint table grants them. */
export const PERMISSIONS = {
  'snapshot.generate': ['operator'],
  'snapshot.submit': ['operator'],
  'snapshot.return': ['office'],
  'snapshot.approve': ['office'],
  'snapshot.publish': ['office'],
  'snapshot.objection': ['office'],
  'snapshot.resolve': ['office'],
  'snapshot.finalise': ['office'],
  'snapshot.exclude': ['office'],
  'snapshot.correct': ['operator', 'office'],
  'snapshot.payment': ['eco_bureau'],
  'snapshot.payments.read': ['eco_bureau', 'office', 'auditor'],
  'assessment.enter': ['assessor'],
  'assessment.target': ['office'],
  'export.rankings': ['operator', 'office', 'auditor'],
  'export.snapshot': LIST_READERS,
  'export.payments': ['eco_bureau'],
  'export.tides': ['operator', 'auditor'],
  'page.dashboard': ALL,
  'page.rankings': LIST_READERS,
  'page.snapshots': LIST_READERS,
  'page.anomalies': ['office', 'operator', 'auditor', 'admin'],
  'page.assessment': SCORE_READERS,
  'page.registry': ALL,
  'page.audit': ['auditor', 'admin'],
  'page.exports': [...new Set([...LIST_READERS, 'auditor', 'operator'] as Role[])],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

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
