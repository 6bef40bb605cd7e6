/**
 * What the staff console needs beyond the reward service's own endpoints: the dashboard summary
 * (today's and this month's boardings, ingest health), the registry views (employers, routes,
 * devices with last-seen) and the office's review of R13 anomalies (list, dismiss, exclude). Declared with the same `endpoint()` table as ENDPOINTS, so the
 * router, the OpenAPI document and the role-matrix test pick them up once they are appended:
 * `createRewardRouter(deps, [...ENDPOINTS, ...CONSOLE_ENDPOINTS])`.
 */
import { DateTime } from 'luxon';
import { z } from 'zod';
import {
  countQuarantinedSince,
  findAnomaly,
  findEmployers,
  findRoutes,
  findVolumeDaily,
  insertExclusion,
  listAnomalies,
  listDevices,
  reviewAnomaly,
  sumTapsReceivedSince,
  type AnomalyListRow,
} from '@ridetally/db';
import { ZONE } from '@ridetally/domain';
import { AppError } from '@ridetally/http';
import { audit } from '../audit.service';
import type { RewardContext } from '../deps';
import { CORRECTABLE, findSnapshots } from '../snapshots.service';
import { excludeFromSnapshot } from '../workflow.service';

import { endpoint, json, type AnyEndpoint } from './endpoint';

/** A validator that has not uploaded for this long is "silent" on the dashboard. */
export const SILENT_AFTER_MS = 24 * 3600_000;

export const DashboardSchema = z
  .object({
    today: z.object({ date: z.string(), boardings: z.number() }),
    month: z.object({ month: z.string(), boardings: z.number() }),
    year: z.number(),
    ingest: z.object({ tapsLastHour: z.number(), tapsPerSecond: z.number(), rejectedToday: z.number(), activeDevices: z.number(), silentDevices: z.number() }),
  })
  .meta({ id: 'ConsoleDashboard' });
export const RegistryEmployerSchema = z.object({ code: z.string(), name: z.string(), type: z.string(), cityArea: z.boolean() }).meta({ id: 'RegistryEmployer' });
export const RegistryRouteSchema = z.object({ routeId: z.string(), shortName: z.string().nullable(), longName: z.string().nullable(), isCity: z.boolean() }).meta({ id: 'RegistryRoute' });
export const RegistryDeviceSchema = z.object({ deviceId: z.string(), vehicleId: z.string().nullable(), status: z.string(), lastSeenAt: z.string().nullable() }).meta({ id: 'RegistryDevice' });

const VIEW_ENDPOINTS: readonly AnyEndpoint[] = [
  endpoint({
    operationId: 'consoleDashboard',
    method: 'get',
    path: '/api/console/dashboard',
    access: 'any',
    summary: "Today's and this month's boardings on all routes (R14, Shanghai calendar) and ingest health",
    tag: 'console',
    response: { kind: 'json', schema: DashboardSchema },
    handler: async ({ ctx }) => {
      const now = ctx.now();
      const today = DateTime.fromJSDate(now).setZone(ZONE).startOf('day');
      const monthStart = today.startOf('month');
      const tomorrow = today.plus({ days: 1 }).toISODate()!;
      const [days, tapsLastHour, rejectedToday, devices] = await Promise.all([
        findVolumeDaily(ctx.db, monthStart.toISODate()!, tomorrow),
        sumTapsReceivedSince(ctx.db, new Date(now.getTime() - 3600_000)),
        countQuarantinedSince(ctx.db, today.toJSDate()),
        listDevices(ctx.db),
      ]);
      const todayIso = today.toISODate()!;
      const active = devices.filter((d) => d.status === 'active');
      const silent = active.filter((d) => !d.last_seen_at || now.getTime() - d.last_seen_at.getTime() > SILENT_AFTER_MS);
      return json({
        today: { date: todayIso, boardings: days.filter((d) => d.serviceDate === todayIso).reduce((s, d) => s + d.boardings, 0) },
        month: { month: monthStart.toFormat('yyyy-MM'), boardings: days.reduce((s, d) => s + d.boardings, 0) },
        year: today.year,
        ingest: {
          tapsLastHour,
          tapsPerSecond: Math.round((tapsLastHour / 3600) * 100) / 100,
          rejectedToday,
          activeDevices: active.length,
          silentDevices: silent.length,
        },
      });
    },
  }),
  endpoint({
    operationId: 'registryEmployers',
    method: 'get',
    path: '/api/console/registry/employers',
    access: 'any',
    summary: 'Employers (R2): code, name, type, city area',
    tag: 'console',
    response: { kind: 'json', schema: z.array(RegistryEmployerSchema) },
    handler: async ({ ctx }) => json((await findEmployers(ctx.db)).map((e) => ({ code: e.code, name: e.name, type: e.type, cityArea: e.city_area }))),
  }),
  endpoint({
    operationId: 'registryRoutes',
    method: 'get',
    path: '/api/console/registry/routes',
    access: 'any',
    summary: 'Routes (R3) with the city-area flag',
    tag: 'console',
    response: { kind: 'json', schema: z.array(RegistryRouteSchema) },
    handler: async ({ ctx }) => json((await findRoutes(ctx.db)).map((r) => ({ routeId: r.route_id, shortName: r.short_name, longName: r.long_name, isCity: r.is_city }))),
  }),
  endpoint({
    operationId: 'registryDevices',
    method: 'get',
    path: '/api/console/registry/devices',
    access: 'any',
    summary: 'Validators with status and last upload (never their secrets)',
    tag: 'console',
    response: { kind: 'json', schema: z.array(RegistryDeviceSchema) },
    handler: async ({ ctx }) =>
      json((await listDevices(ctx.db)).map((d) => ({ deviceId: d.device_id, vehicleId: d.vehicle_id, status: d.status, lastSeenAt: d.last_seen_at ? d.last_seen_at.toISOString() : null }))),
  }),
];

// ---------------------------------------------------------------- R13 anomalies (office review)

export const AnomalySchema = z
  .object({
    id: z.number(),
    kind: z.string(),
    personId: z.string().nullable(),
    nameMasked: z.string().nullable(),
    period: z.string().nullable(),
    details: z.unknown(),
    status: z.enum(['open', 'dismissed', 'excluded']),
    detectedAt: z.string(),
    reviewedBy: z.string().nullable(),
    reviewedAt: z.string().nullable(),
    reviewReason: z.string().nullable(),
  })
  .meta({ id: 'Anomaly' });
const AnomalyQuerySchema = z.object({
  status: z.enum(['open', 'dismissed', 'excluded']).optional(),
  kind: z.enum(['rides_per_day', 'two_vehicles', 'rating_without_ride', 'late_rating_forward']).optional(),
  period: z.string().regex(/^\d{4}(-Q[1-4])?$/).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
const AnomalyIdParamsSchema = z.object({ id: z.coerce.number().int().positive() });
const ReviewBodySchema = z.object({ reason: z.string().trim().min(1).max(2000) }).meta({ id: 'AnomalyReviewBody' });
const AnomalyExcludeResultSchema = z.object({ anomalyId: z.number(), exclusionId: z.number().nullable(), newVersion: z.object({ snapshotId: z.string(), version: z.number() }).nullable() });

function toAnomalyDto(a: AnomalyListRow) {
  return {
    id: a.id,
    kind: a.kind,
    personId: a.person_id,
    nameMasked: a.name_masked,
    period: a.period,
    details: a.details,
    status: a.status,
    detectedAt: a.detected_at.toISOString(),
    reviewedBy: a.reviewed_by,
    reviewedAt: a.reviewed_at ? a.reviewed_at.toISOString() : null,
    reviewReason: a.review_reason,
  };
}

async function openAnomaly(ctx: RewardContext, id: number): Promise<AnomalyListRow> {
  const a = await findAnomaly(ctx.db, id);
  if (!a) throw new AppError('not_found', 'no such anomaly');
  if (a.status !== 'open') throw new AppError('conflict', `the anomaly is already ${a.status}`);
  return a;
}

const ANOMALY_ENDPOINTS: readonly AnyEndpoint[] = [
  endpoint({
    operationId: 'listAnomalies',
    method: 'get',
    path: '/api/anomalies',
    access: ['office', 'operator', 'auditor', 'admin'],
    summary: 'R13 anomalies flagged for the office, newest first (masked names only)',
    tag: 'anomalies',
    query: AnomalyQuerySchema,
    response: { kind: 'json', schema: z.array(AnomalySchema) },
    handler: async ({ ctx, query }) => json((await listAnomalies(ctx.db, query)).map(toAnomalyDto)),
  }),
  endpoint({
    operationId: 'dismissAnomaly',
    method: 'post',
    path: '/api/anomalies/:id/dismiss',
    access: ['office'],
    summary: 'Close an anomaly without excluding anything, with the reason; audited',
    tag: 'anomalies',
    params: AnomalyIdParamsSchema,
    body: ReviewBodySchema,
    response: { kind: 'json', schema: AnomalySchema },
    handler: async ({ ctx, actor, params, body }) => {
      await ctx.db.transaction().execute(async (trx) => {
        const now = ctx.now();
        const a = await findAnomaly(trx, params.id);
        if (!a) throw new AppError('not_found', 'no such anomaly');
        if (!(await reviewAnomaly(trx, params.id, { status: 'dismissed', by: actor.username, at: now, reason: body.reason }))) throw new AppError('conflict', `the anomaly is already ${a.status}`);
        await audit(trx, now, actor, 'anomaly.dismiss', `anomaly:${params.id}`, body.reason, { kind: a.kind, personId: a.person_id, period: a.period });
      });
      return json(toAnomalyDto((await findAnomaly(ctx.db, params.id))!));
    },
  }),
  endpoint({
    operationId: 'excludeAnomaly',
    method: 'post',
    path: '/api/anomalies/:id/exclude',
    access: ['office'],
    summary: "R13: exclude the anomaly's person from its period with a reason; a current list gets a new version",
    tag: 'anomalies',
    params: AnomalyIdParamsSchema,
    body: ReviewBodySchema,
    response: { kind: 'json', schema: AnomalyExcludeResultSchema, status: 201 },
    handler: async ({ ctx, actor, params, body }) => {
      const a = await openAnomaly(ctx, params.id);
      if (!a.person_id || !a.period) throw new AppError('conflict', 'this anomaly names no person and period to exclude');
      const lists = (await findSnapshots(ctx, { period: a.period })).filter((s) => s.status !== 'superseded');
      const current = lists[0];
      let newVersion: { snapshotId: string; version: number } | null = null;
      let exclusionId: number | null = null;
      if (current && CORRECTABLE.includes(current.status)) {
        // the reward service's own path: exclusion + new version in one transaction
        const r = await excludeFromSnapshot(ctx, actor, current.snapshotId, { personId: a.person_id, reason: body.reason });
        exclusionId = r.exclusionId;
        newVersion = r.newVersion ? { snapshotId: r.newVersion.snapshotId, version: r.newVersion.version } : null;
      } else if (current) {
        throw new AppError('conflict', `the ${a.period} list is ${current.status}; a ${current.status} list cannot be corrected`);
      }
      await ctx.db.transaction().execute(async (trx) => {
        const now = ctx.now();
        if (exclusionId === null) {
          // no list yet: the exclusion leaves the person out of live rankings and the list to come
          const e = await insertExclusion(trx, { personId: a.person_id!, period: a.period!, tapId: null, reason: body.reason, createdBy: actor.username, createdAt: now });
          exclusionId = Number(e.id);
          await audit(trx, now, actor, 'exclusion.create', `anomaly:${params.id}`, body.reason, { exclusionId, personId: a.person_id, period: a.period });
        }
        await reviewAnomaly(trx, params.id, { status: 'excluded', by: actor.username, at: now, reason: body.reason });
        await audit(trx, now, actor, 'anomaly.exclude', `anomaly:${params.id}`, body.reason, { exclusionId, kind: a.kind, personId: a.person_id, period: a.period });
      });
      return json({ anomalyId: params.id, exclusionId, newVersion }, 201);
    },
  }),
];

/** Every endpoint of this file, to append to ENDPOINTS. */
export const CONSOLE_ENDPOINTS: readonly AnyEndpoint[] = [...VIEW_ENDPOINTS, ...ANOMALY_ENDPOINTS];
