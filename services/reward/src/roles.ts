/** Staff roles (SPEC §1). */
export const STAFF_ROLES = ['operator', 'office', 'eco_bureau', 'assessor', 'auditor', 'admin'] as const;
export type Role = (typeof STAFF_ROLES)[number];

/** Who may call an endpoint: 'public' (no login), 'any' (any logged-in role), or a list of roles. */
export type Access = 'public' | 'any' | readonly Role[];

/** Everyone who reads lists (the public notice aside). */
export const LIST_READERS: readonly Role[] = ['operator', 'office', 'eco_bureau', 'auditor'];
export const SCORE_READERS: readonly Role[] = ['assessor', 'office', 'operator', 'eco_bureau', 'auditor'];

export function isAllowed(access: Access, roles: readonly string[] | undefined): boolean {
  if (access === 'public') return true;
  if (!roles || roles.length === 0) return false;
  if (access === 'any') return true;
  return roles.some((r) => (access as readonly string[]).includes(r));
}
