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

/** Action → roles that may perform it (SPEC §1, R11, R13, R16). */
export const PERMISSIONS = {
  'snapshot.generate': ['operator'],
  'snapshot.submit': ['operator'],
  'snapshot.return': ['office'],
  'snapshot.approve': ['office'],
  'snapshot.publish': ['office'],
  'snapshot.objection': ['office'],
  'snapshot.resolve': ['office'],
  'snapshot.finalise': ['office'],
  'snapshot.payment': ['eco_bureau'],
  'anomaly.exclude': ['office'],
  'assessment.enter': ['assessor'],
  'export.payments': ['eco_bureau'],
  'page.dashboard': ALL,
  'page.rankings': ALL,
  'page.snapshots': ALL,
  'page.anomalies': ['office', 'operator', 'auditor', 'admin'],
  'page.assessment': ['assessor', 'office', 'auditor', 'admin'],
  'page.registry': ALL,
  'page.audit': ['auditor', 'admin'],
  'page.exports': ALL,
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
  token?: string;
  user: StaffUser;
}

export async function signIn(username: string, password: string): Promise<StaffUser> {
  const res = await api.post<LoginResponse>('/api/auth/login', { username, password });
  setToken(res.token ?? null);
  current = res.user;
  return res.user;
}

/** Restores the session after a reload; null when there is none. */
export async function restoreSession(): Promise<StaffUser | null> {
  try {
    const res = await api.get<{ user: StaffUser } | StaffUser>('/api/auth/me');
    current = 'user' in res ? res.user : res;
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
