/** Every staff endpoint of the reward service, with its roles (SPEC §1, §5). */
import { z } from 'zod';
import { listAudit, verifyAuditChain } from '@ridetally/db';
import { AppError } from '@ridetally/http';
import { createStaffUser, listUsers, login, logout } from '../auth/auth.service';
import { audit } from '../audit.service';
import { enterItem, operatorScore, setBudget, setTarget, volumeReport } from '../assessment.service';
import {
  exportPaymentList,
  exportRanking,
  exportSnapshot,
  noticeHtml,
  noticePdf,
  streamTides,
} from '../exports.service';
import { CSV_TYPE, XLSX_TYPE } from '../exports/tabular';
import { liveRanking } from '../rankings.service';
import { LIST_READERS, SCORE_READERS } from '../roles';
import * as S from '../schemas';
import { createCorrection, createSnapshot, findSnapshots, getSnapshot, snapshotDrift, verifySnapshot } from '../snapshots.service';
import {
  ceremonyList,
  excludeFromSnapshot,
  objectionsOf,
  paymentsOf,
  recordObjection,
  recordPayment,
  settleObjection,
  transition,
  type WorkflowAction,
} from '../workflow.service';
import { CONSOLE_ENDPOINTS } from './console-endpoints';
import { endpoint, json, type AnyEndpoint } from './endpoint';

const TABULAR = [CSV_TYPE, XLSX_TYPE] as const;
const Summary = { kind: 'json', schema: S.SnapshotSummarySchema } as const;

function workflowEndpoint(action: WorkflowAction, summary: string, roles: readonly ('operator' | 'office')[], reasonRequired = false): AnyEndpoint {
  return endpoint({
    operationId: `${action}Snapshot`,
    method: 'post',
    path: `/api/snapshots/:id/${action}`,
    access: roles,
    summary,
    tag: 'workflow',
    params: S.SnapshotIdParamsSchema,
    body: reasonRequired ? S.RequiredReasonBodySchema : S.ReasonBodySchema,
    response: Summary,
    handler: async ({ ctx, actor, params, body }) => json(await transition(ctx, actor, params.id, action, body.reason ?? null)),
  });
}

export const ENDPOINTS: readonly AnyEndpoint[] = [
  // ------------------------------------------------------------ auth
  endpoint({
    operationId: 'login',
    method: 'post',
    path: '/api/auth/login',
    access: 'public',
    summary: 'Log in with username and password; returns a session token (also set as an HttpOnly cookie)',
    tag: 'auth',
    body: S.LoginBodySchema,
    response: { kind: 'json', schema: S.LoginResponseSchema },
    handler: async ({ ctx, body }) => {
      const r = await login(ctx, body.username, body.password);
      return json({ token: r.token, expiresAt: r.expiresAt.toISOString(), roles: r.roles });
    },
  }),
  endpoint({
    operationId: 'logout',
    method: 'post',
    path: '/api/auth/logout',
    access: 'any',
    summary: 'End the current session',
    tag: 'auth',
    response: { kind: 'json', schema: S.OkSchema },
    handler: async ({ ctx, actor, token }) => {
      if (token) await logout(ctx, token, { userId: actor.userId, username: actor.username, roles: actor.roles as never, expiresAt: new Date() });
      return json({ ok: true });
    },
  }),
  endpoint({
    operationId: 'me',
    method: 'get',
    path: '/api/auth/me',
    access: 'any',
    summary: 'The logged-in staff member and roles',
    tag: 'auth',
    response: { kind: 'json', schema: S.MeResponseSchema },
    handler: ({ actor, req }) => Promise.resolve(json({ userId: actor.userId, username: actor.username, roles: actor.roles, expiresAt: req.staffSession?.expiresAt.toISOString() ?? '' })),
  }),
  // ------------------------------------------------------------ users
  endpoint({
    operationId: 'listUsers',
    method: 'get',
    path: '/api/users',
    access: ['admin'],
    summary: 'Staff accounts',
    tag: 'users',
    response: { kind: 'json', schema: z.array(S.UserSchema) },
    handler: async ({ ctx }) => json(await listUsers(ctx)),
  }),
  endpoint({
    operationId: 'createUser',
    method: 'post',
    path: '/api/users',
    access: ['admin'],
    summary: 'Create a staff account',
    tag: 'users',
    body: S.CreateUserBodySchema,
    response: { kind: 'json', schema: S.UserSchema, status: 201 },
    handler: async ({ ctx, actor, body }) => json(await createStaffUser(ctx, `${actor.username} (${actor.userId})`, body), 201),
  }),
  // ------------------------------------------------------------ audit
  endpoint({
    operationId: 'listAudit',
    method: 'get',
    path: '/api/audit',
    access: ['auditor', 'admin'],
    summary: 'The audit log, in order',
    tag: 'audit',
    query: S.AuditQuerySchema,
    response: { kind: 'json', schema: z.array(S.AuditEntrySchema) },
    handler: async ({ ctx, query }) =>
      json((await listAudit(ctx.db, { limit: query.limit, ...(query.afterId !== undefined ? { afterId: query.afterId } : {}), ...(query.subject ? { subject: query.subject } : {}) })).map((r) => ({ ...r, at: r.at.toISOString() }))),
  }),
  endpoint({
    operationId: 'verifyAudit',
    method: 'get',
    path: '/api/audit/verify',
    access: ['auditor', 'admin'],
    summary: 'Recompute the audit hash chain; reports the first edited or missing row',
    tag: 'audit',
    response: { kind: 'json', schema: S.AuditVerifySchema },
    handler: async ({ ctx }) => json(await verifyAuditChain(ctx.db)),
  }),
  // ------------------------------------------------------------ rankings
  endpoint({
    operationId: 'getRanking',
    method: 'get',
    path: '/api/rankings',
    access: LIST_READERS,
    summary: 'Live ranking of a quarter or year (R7-R9), from the current counts',
    tag: 'rankings',
    query: S.RankingQuerySchema,
    response: { kind: 'json', schema: S.RankingResponseSchema },
    handler: async ({ ctx, query }) => json(await liveRanking(ctx.db, query.period, query.tiePolicy, query.limit)),
  }),
  endpoint({
    operationId: 'exportRanking',
    method: 'get',
    path: '/api/rankings/export',
    access: ['operator', 'office', 'auditor'],
    summary: 'Live ranking as CSV (UTF-8 with BOM) or XLSX; audited',
    tag: 'exports',
    query: S.RankingExportQuerySchema,
    response: { kind: 'file', contentTypes: TABULAR },
    handler: async ({ ctx, actor, query }) => ({ kind: 'file', file: await exportRanking(ctx, actor, query) }),
  }),
  // ------------------------------------------------------------ snapshots
  endpoint({
    operationId: 'listSnapshots',
    method: 'get',
    path: '/api/snapshots',
    access: LIST_READERS,
    summary: 'Snapshots, newest period first',
    tag: 'snapshots',
    query: S.SnapshotListQuerySchema,
    response: { kind: 'json', schema: z.array(S.SnapshotSummarySchema) },
    handler: async ({ ctx, query }) => json(await findSnapshots(ctx, query)),
  }),
  endpoint({
    operationId: 'createSnapshot',
    method: 'post',
    path: '/api/snapshots',
    access: ['operator'],
    summary: 'Freeze the list of a closed period (R10, R12); refused before period end + grace',
    tag: 'snapshots',
    body: S.CreateSnapshotBodySchema,
    response: { kind: 'json', schema: S.SnapshotSummarySchema, status: 201 },
    handler: async ({ ctx, actor, body }) => json(await createSnapshot(ctx, actor, body), 201),
  }),
  endpoint({
    operationId: 'getSnapshot',
    method: 'get',
    path: '/api/snapshots/:id',
    access: LIST_READERS,
    summary: 'A snapshot with its rows and transitions',
    tag: 'snapshots',
    params: S.SnapshotIdParamsSchema,
    response: { kind: 'json', schema: S.SnapshotDetailSchema },
    handler: async ({ ctx, params }) => json(await getSnapshot(ctx, params.id)),
  }),
  endpoint({
    operationId: 'verifySnapshot',
    method: 'get',
    path: '/api/snapshots/:id/verify',
    access: LIST_READERS,
    summary: 'Recompute the SHA-256 of the stored content',
    tag: 'snapshots',
    params: S.SnapshotIdParamsSchema,
    response: { kind: 'json', schema: S.VerifyResponseSchema },
    handler: async ({ ctx, params }) => json(await verifySnapshot(ctx, params.id)),
  }),
  endpoint({
    operationId: 'snapshotDrift',
    method: 'get',
    path: '/api/snapshots/:id/drift',
    access: LIST_READERS,
    summary: 'Differences between the snapshot and live counts (late taps, recounts)',
    tag: 'snapshots',
    params: S.SnapshotIdParamsSchema,
    response: { kind: 'json', schema: S.DriftResponseSchema },
    handler: async ({ ctx, params }) => json(await snapshotDrift(ctx, params.id)),
  }),
  endpoint({
    operationId: 'correctSnapshot',
    method: 'post',
    path: '/api/snapshots/:id/corrections',
    access: ['operator', 'office'],
    summary: 'A new version from live counts, superseding this one',
    tag: 'snapshots',
    params: S.SnapshotIdParamsSchema,
    body: S.CorrectionBodySchema,
    response: { kind: 'json', schema: S.SnapshotSummarySchema, status: 201 },
    handler: async ({ ctx, actor, params, body }) => json(await createCorrection(ctx, actor, params.id, body.reason, { tiePolicy: body.tiePolicy }), 201),
  }),
  endpoint({
    operationId: 'excludeFromSnapshot',
    method: 'post',
    path: '/api/snapshots/:id/exclusions',
    access: ['office'],
    summary: 'R13: exclude a person (new version at once) or one ride (recount, then a correction)',
    tag: 'snapshots',
    params: S.SnapshotIdParamsSchema,
    body: S.ExclusionBodySchema,
    response: { kind: 'json', schema: S.ExclusionResponseSchema, status: 201 },
    handler: async ({ ctx, actor, params, body }) => json(await excludeFromSnapshot(ctx, actor, params.id, body), 201),
  }),
  // ------------------------------------------------------------ workflow
  workflowEndpoint('submit', 'Submit a draft or returned list for review (operator)', ['operator']),
  workflowEndpoint('return', 'Return a submitted list with a reason (office)', ['office'], true),
  workflowEndpoint('approve', 'Approve a submitted list (office)', ['office']),
  workflowEndpoint('publish', 'Start the 7-day public notice (office); dates in Shanghai', ['office']),
  workflowEndpoint('finalize', 'Finalise after the notice ended and every objection is resolved (office)', ['office']),
  endpoint({
    operationId: 'listObjections',
    method: 'get',
    path: '/api/snapshots/:id/objections',
    access: LIST_READERS,
    summary: 'Objections recorded against a list',
    tag: 'workflow',
    params: S.SnapshotIdParamsSchema,
    response: { kind: 'json', schema: z.array(S.ObjectionSchema) },
    handler: async ({ ctx, params }) => json(await objectionsOf(ctx, params.id)),
  }),
  endpoint({
    operationId: 'recordObjection',
    method: 'post',
    path: '/api/snapshots/:id/objections',
    access: ['office'],
    summary: 'Record an objection raised during the public notice',
    tag: 'workflow',
    params: S.SnapshotIdParamsSchema,
    body: S.ObjectionBodySchema,
    response: { kind: 'json', schema: S.ObjectionSchema, status: 201 },
    handler: async ({ ctx, actor, params, body }) => json(await recordObjection(ctx, actor, params.id, body), 201),
  }),
  endpoint({
    operationId: 'resolveObjection',
    method: 'post',
    path: '/api/objections/:id/resolve',
    access: ['office'],
    summary: 'Resolve an objection with the outcome',
    tag: 'workflow',
    params: S.ObjectionIdParamsSchema,
    body: S.ResolveObjectionBodySchema,
    response: { kind: 'json', schema: S.ObjectionSchema },
    handler: async ({ ctx, actor, params, body }) => json(await settleObjection(ctx, actor, params.id, body.resolution)),
  }),
  endpoint({
    operationId: 'listPayments',
    method: 'get',
    path: '/api/snapshots/:id/payments',
    access: ['eco_bureau', 'office', 'auditor'],
    summary: 'Payments recorded for an annual list',
    tag: 'payments',
    params: S.SnapshotIdParamsSchema,
    response: { kind: 'json', schema: z.array(S.PaymentSchema) },
    handler: async ({ ctx, params }) => json(await paymentsOf(ctx, params.id)),
  }),
  endpoint({
    operationId: 'recordPayment',
    method: 'post',
    path: '/api/snapshots/:id/payments',
    access: ['eco_bureau'],
    summary: "Record one person's award payment on a final annual list; all paid → status paid",
    tag: 'payments',
    params: S.SnapshotIdParamsSchema,
    body: S.PaymentBodySchema,
    response: { kind: 'json', schema: S.PaymentResultSchema, status: 201 },
    handler: async ({ ctx, actor, params, body }) => json(await recordPayment(ctx, actor, params.id, body), 201),
  }),
  endpoint({
    operationId: 'ceremonyList',
    method: 'get',
    path: '/api/snapshots/:id/ceremony',
    access: LIST_READERS,
    summary: 'The ceremony list: top 100 of a final annual list',
    tag: 'payments',
    params: S.SnapshotIdParamsSchema,
    response: { kind: 'json', schema: S.CeremonySchema },
    handler: async ({ ctx, params }) => json(await ceremonyList(ctx, params.id)),
  }),
  // ------------------------------------------------------------ exports
  endpoint({
    operationId: 'exportSnapshot',
    method: 'get',
    path: '/api/snapshots/:id/export',
    access: LIST_READERS,
    summary: 'A snapshot as CSV (UTF-8 with BOM) or XLSX; audited',
    tag: 'exports',
    params: S.SnapshotIdParamsSchema,
    query: S.FormatQuerySchema,
    response: { kind: 'file', contentTypes: TABULAR },
    handler: async ({ ctx, actor, params, query }) => ({ kind: 'file', file: await exportSnapshot(ctx, actor, params.id, query.format) }),
  }),
  endpoint({
    operationId: 'previewNoticeHtml',
    method: 'get',
    path: '/api/snapshots/:id/notice.html',
    access: LIST_READERS,
    summary: 'Preview the public notice page of any version',
    tag: 'exports',
    params: S.SnapshotIdParamsSchema,
    response: { kind: 'html' },
    handler: async ({ ctx, params }) => ({ kind: 'html', body: await noticeHtml(ctx, params.id, false) }),
  }),
  endpoint({
    operationId: 'previewNoticePdf',
    method: 'get',
    path: '/api/snapshots/:id/notice.pdf',
    access: LIST_READERS,
    summary: 'The public notice as a printable PDF (masked names, embedded CJK font)',
    tag: 'exports',
    params: S.SnapshotIdParamsSchema,
    response: { kind: 'file', contentTypes: ['application/pdf'] },
    handler: async ({ ctx, actor, params }) => {
      const file = await noticePdf(ctx, params.id, false);
      await audit(ctx.db, ctx.now(), actor, 'export.notice_pdf', `snapshot:${params.id}`, null);
      return { kind: 'file', file, inline: true };
    },
  }),
  endpoint({
    operationId: 'publicNoticeHtml',
    method: 'get',
    path: '/public/notices/:id',
    access: 'public',
    summary: 'The published public notice (in notice, final or paid lists only)',
    tag: 'public',
    params: S.SnapshotIdParamsSchema,
    response: { kind: 'html' },
    handler: async ({ ctx, params }) => ({ kind: 'html', body: await noticeHtml(ctx, params.id, true) }),
  }),
  endpoint({
    operationId: 'publicNoticePdf',
    method: 'get',
    path: '/public/notices/:id/pdf',
    access: 'public',
    summary: 'The published public notice as PDF',
    tag: 'public',
    params: S.SnapshotIdParamsSchema,
    response: { kind: 'file', contentTypes: ['application/pdf'] },
    handler: async ({ ctx, params }) => ({ kind: 'file', file: await noticePdf(ctx, params.id, true), inline: true }),
  }),
  endpoint({
    operationId: 'exportPaymentList',
    method: 'get',
    path: '/api/snapshots/:id/payment-list',
    access: ['eco_bureau'],
    summary: 'The payment list with full names and ID numbers (ecology bureau only; audited)',
    tag: 'exports',
    params: S.SnapshotIdParamsSchema,
    query: S.FormatQuerySchema,
    response: { kind: 'file', contentTypes: TABULAR },
    handler: async ({ ctx, actor, params, query }) => ({ kind: 'file', file: await exportPaymentList(ctx, actor, params.id, query.format) }),
  }),
  endpoint({
    operationId: 'exportTidesFareTransactions',
    method: 'get',
    path: '/api/exports/tides/fare-transactions',
    access: ['operator', 'auditor'],
    summary: 'TIDES fare_transactions CSV for Shanghai dates [from, to], media pseudonymised; audited',
    tag: 'exports',
    query: S.TidesQuerySchema,
    response: { kind: 'file', contentTypes: [CSV_TYPE] },
    handler: ({ ctx, actor, query }) =>
      Promise.resolve({
        kind: 'stream',
        filename: `fare_transactions-${query.from}-${query.to}.csv`,
        contentType: CSV_TYPE,
        write: (push) => streamTides(ctx, actor, query.from, query.to, push),
      }),
  }),
  // ------------------------------------------------------------ operator assessment
  endpoint({
    operationId: 'volumeReport',
    method: 'get',
    path: '/api/assessment/:year/volume',
    access: SCORE_READERS,
    summary: 'R14-R16: monthly and annual city-area boardings against the target, with the volume item',
    tag: 'assessment',
    params: S.YearParamsSchema,
    response: { kind: 'json', schema: S.VolumeReportSchema },
    handler: async ({ ctx, params }) => json(await volumeReport(ctx, params.year)),
  }),
  endpoint({
    operationId: 'setVolumeTarget',
    method: 'put',
    path: '/api/assessment/:year/target',
    access: ['office'],
    summary: "R15: set a year's volume target",
    tag: 'assessment',
    params: S.YearParamsSchema,
    body: S.TargetBodySchema,
    response: { kind: 'json', schema: z.object({ year: z.number(), target: z.number() }) },
    handler: async ({ ctx, actor, params, body }) => json(await setTarget(ctx, actor, params.year, body.target, body.reason ?? null)),
  }),
  endpoint({
    operationId: 'enterAssessmentItem',
    method: 'put',
    path: '/api/assessment/:year/items/:item',
    access: ['assessor'],
    summary: 'R16: enter one of the five non-volume items within its maximum',
    tag: 'assessment',
    params: S.ItemParamsSchema,
    body: S.ItemBodySchema,
    response: { kind: 'json', schema: z.object({ year: z.number(), item: z.string(), score: z.number(), max: z.number() }) },
    handler: async ({ ctx, actor, params, body }) => json(await enterItem(ctx, actor, params.year, params.item, body.score, body.note ?? null)),
  }),
  endpoint({
    operationId: 'setSubsidyBudget',
    method: 'put',
    path: '/api/assessment/:year/budget',
    access: ['office'],
    summary: "R17: the year's operating subsidy and the pre-programme subsidy",
    tag: 'assessment',
    params: S.YearParamsSchema,
    body: S.BudgetBodySchema,
    response: { kind: 'json', schema: z.object({ year: z.number(), operatingSubsidyCny: z.number(), preProgrammeSubsidyCny: z.number() }) },
    handler: async ({ ctx, actor, params, body }) =>
      json(await setBudget(ctx, actor, params.year, { operatingSubsidyCny: body.operatingSubsidyCny, preProgrammeSubsidyCny: body.preProgrammeSubsidyCny }, body.reason ?? null)),
  }),
  endpoint({
    operationId: 'operatorScore',
    method: 'get',
    path: '/api/assessment/:year/score',
    access: SCORE_READERS,
    summary: 'R16-R17: the total score (capped at 100), subsidy adjustment and city/district split',
    tag: 'assessment',
    params: S.YearParamsSchema,
    response: { kind: 'json', schema: S.OperatorScoreSchema },
    handler: async ({ ctx, params }) => json(await operatorScore(ctx, params.year)),
  }),
  // The console's dashboard, registry views and anomaly review (services/console).
  ...CONSOLE_ENDPOINTS,
];

/** Fails at start-up if two endpoints share a method and path. */
export function assertUniqueEndpoints(list: readonly AnyEndpoint[]): void {
  const seen = new Set<string>();
  for (const e of list) {
    const key = `${e.method} ${e.path}`;
    if (seen.has(key)) throw new AppError('internal', `duplicate endpoint ${key}`);
    seen.add(key);
  }
}
