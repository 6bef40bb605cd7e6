/**
 * Which role may do what, mirrored from the reward service's endpoint table
 * (services/reward/src/routes/endpoints.ts); `test/permissions.test.ts` compares the two, so a
 * change on the server fails a test here instead of leaving a button that errors. DOM-free.
 */
export const ROLES = ['operator', 'office', 'eco_bureau', 'assessor', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

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
  'anomaly.review': ['office'],
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
  'page.exports': LIST_READERS,
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

