/**
 * The console hides buttons by its own role table; the reward service decides by its endpoint
 * table. This test holds them together: each console permission names the operations it stands for
 * and must grant exactly the roles those endpoints allow.
 */
import { describe, expect, it } from 'vitest';
import { ENDPOINTS } from '@ridetally/reward';
import { CONSOLE_ENDPOINTS } from '../../reward/src/routes/console-endpoints';
import { PERMISSIONS, ROLES, type Permission } from '../web/permissions';

const OPERATIONS: Partial<Record<Permission, string[]>> = {
  'snapshot.generate': ['createSnapshot'],
  'snapshot.submit': ['submitSnapshot'],
  'snapshot.return': ['returnSnapshot'],
  'snapshot.approve': ['approveSnapshot'],
  'snapshot.publish': ['publishSnapshot'],
  'snapshot.objection': ['recordObjection'],
  'snapshot.resolve': ['resolveObjection'],
  'snapshot.finalise': ['finalizeSnapshot'],
  'snapshot.exclude': ['excludeFromSnapshot'],
  'snapshot.correct': ['correctSnapshot'],
  'snapshot.payment': ['recordPayment'],
  'snapshot.payments.read': ['listPayments'],
  'assessment.enter': ['enterAssessmentItem'],
  'assessment.target': ['setVolumeTarget', 'setSubsidyBudget'],
  'export.rankings': ['exportRanking'],
  'export.snapshot': ['exportSnapshot', 'previewNoticeHtml', 'previewNoticePdf'],
  'export.payments': ['exportPaymentList'],
  'export.tides': ['exportTidesFareTransactions'],
  'page.rankings': ['getRanking'],
  'page.snapshots': ['listSnapshots', 'getSnapshot', 'snapshotDrift', 'listObjections'],
  'page.assessment': ['volumeReport', 'operatorScore'],
  'page.audit': ['listAudit'],
  'page.anomalies': ['listAnomalies'],
  'anomaly.review': ['dismissAnomaly', 'excludeAnomaly'],
  'page.dashboard': ['consoleDashboard'],
  'page.registry': ['registryEmployers', 'registryRoutes', 'registryDevices'],
};

const ALL_ENDPOINTS = [...ENDPOINTS, ...CONSOLE_ENDPOINTS.filter((c) => !ENDPOINTS.some((e) => e.operationId === c.operationId))];

function rolesOf(operationId: string): string[] {
  const e = ALL_ENDPOINTS.find((x) => x.operationId === operationId);
  if (!e) throw new Error(`the reward service has no operation ${operationId}`);
  if (e.access === 'public') return [];
  return [...(e.access === 'any' ? ROLES : e.access)].sort();
}

describe('console permissions', () => {
  for (const [permission, operations] of Object.entries(OPERATIONS)) {
    it(`${permission} grants the roles of ${operations.join(', ')}`, () => {
      const mine = [...PERMISSIONS[permission as Permission]].sort();
      for (const op of operations) expect([op, mine]).toEqual([op, rolesOf(op)]);
    });
  }

  it('every console page can be reached by some role, and the dashboard by all', () => {
    for (const [name, roles] of Object.entries(PERMISSIONS)) expect([name, roles.length > 0]).toEqual([name, true]);
    expect([...PERMISSIONS['page.dashboard']].sort()).toEqual([...ROLES].sort());
  });
});
