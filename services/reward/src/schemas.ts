/** The zod schemas of the staff API: handlers parse with them, the OpenAPI document is made from them. */
import { z } from 'zod';
import { ASSESSMENT_ITEMS, TIE_POLICIES } from '@ridetally/domain';
import { REASON_CODES } from './reasons';
import { STAFF_ROLES } from './roles';

export const PeriodSchema = z.string().regex(/^\d{4}(-Q[1-4])?$/, 'a quarter like 2022-Q3 or a year like 2022');
export const TiePolicySchema = z.enum(TIE_POLICIES);
export const UuidSchema = z.string().uuid();
export const YearSchema = z.coerce.number().int().min(2022).max(2100);
export const SnapshotStatusSchema = z.enum(['draft', 'submitted', 'returned', 'approved', 'in_notice', 'final', 'paid', 'superseded']);
const Reason = z.string().trim().min(1).max(2000);

export const LoginBodySchema = z.object({ username: z.string().min(1).max(100), password: z.string().min(1).max(200) }).meta({ id: 'LoginBody' });
export const LoginResponseSchema = z.object({ token: z.string(), expiresAt: z.string(), roles: z.array(z.enum(STAFF_ROLES)) }).meta({ id: 'LoginResponse' });
export const MeResponseSchema = z.object({ userId: z.string(), username: z.string(), roles: z.array(z.string()), expiresAt: z.string() }).meta({ id: 'Me' });
export const OkSchema = z.object({ ok: z.literal(true) });

export const CreateUserBodySchema = z
  .object({
    username: z.string().regex(/^[a-z0-9._-]{3,64}$/, '3–64 characters a-z 0-9 . _ -'),
    displayName: z.string().max(100).nullish(),
    roles: z.array(z.enum(STAFF_ROLES)).min(1),
    password: z.string().min(10).max(200),
  })
  .meta({ id: 'CreateUserBody' });
export const UserSchema = z.object({ userId: z.string(), username: z.string(), displayName: z.string().nullish(), roles: z.array(z.string()), locked: z.boolean().optional(), disabled: z.boolean().optional() }).meta({ id: 'StaffUser' });

export const AuditQuerySchema = z.object({ afterId: z.coerce.number().int().min(0).optional(), limit: z.coerce.number().int().min(1).max(1000).default(100), subject: z.string().max(200).optional() });
export const AuditEntrySchema = z.object({ id: z.number(), at: z.string(), actor: z.string(), action: z.string(), subject: z.string().nullable(), reason: z.string().nullable(), details: z.unknown() }).meta({ id: 'AuditEntry' });
export const AuditVerifySchema = z.object({ ok: z.boolean(), checked: z.number(), brokenAtId: z.number().optional(), problem: z.string().optional() }).meta({ id: 'AuditVerification' });

/** A rule explanation as a stable code and its figures, beside the English sentence (services/reward/src/reasons.ts). */
export const ExplanationReasonSchema = z
  .object({ code: z.enum(REASON_CODES as [string, ...string[]]), params: z.record(z.string(), z.union([z.string(), z.number()])) })
  .meta({ id: 'ExplanationReason' });
/** A row's tie note (R7/R9) in figures; null without a note. */
export const TieReasonSchema = z
  .object({
    policy: TiePolicySchema,
    size: z.number(),
    rides: z.number(),
    rank: z.number().nullable(),
    fromPosition: z.number(),
    toPosition: z.number(),
    listLine: z.number().nullable(),
    tierBoundariesAfter: z.array(z.number()),
  })
  .meta({ id: 'TieReason' });

export const RankingQuerySchema = z.object({
  period: PeriodSchema,
  tiePolicy: TiePolicySchema.default('shared'),
  limit: z.coerce.number().int().min(1).max(100_000).optional(),
});
export const RankingExportQuerySchema = RankingQuerySchema.extend({ format: z.enum(['csv', 'xlsx']).default('csv') });
export const RankingRowSchema = z
  .object({
    position: z.number(),
    rank: z.number(),
    personId: z.string(),
    nameMasked: z.string(),
    employerCode: z.string().nullable(),
    rides: z.number(),
    lastCountedAt: z.string().nullable(),
    awardCny: z.number().nullable(),
    tieNote: z.string().nullable(),
    tie: TieReasonSchema.nullable().optional(),
    explanation: z.string().optional(),
  })
  .meta({ id: 'RankingRow' });
export const TotalsSchema = z
  .object({
    persons: z.number(),
    rides: z.number(),
    tiers: z.array(z.object({ fromRank: z.number(), toRank: z.number(), amountCny: z.number(), persons: z.number(), totalCny: z.number() })).optional(),
    totalCny: z.number().optional(),
    nominalBudgetCny: z.number().optional(),
    exceedsNominalBudget: z.boolean().optional(),
  })
  .meta({ id: 'ListTotals' });
export const RankingResponseSchema = z
  .object({ period: z.string(), kind: z.enum(['quarterly', 'annual']), tiePolicy: TiePolicySchema, rulesVersion: z.string(), rows: z.array(RankingRowSchema), totals: TotalsSchema })
  .meta({ id: 'Ranking' });

export const SnapshotIdParamsSchema = z.object({ id: UuidSchema });
export const CreateSnapshotBodySchema = z.object({ period: PeriodSchema, tiePolicy: TiePolicySchema.default('shared') }).meta({ id: 'CreateSnapshotBody' });
export const SnapshotListQuerySchema = z.object({ period: PeriodSchema.optional(), kind: z.enum(['quarterly', 'annual']).optional(), status: SnapshotStatusSchema.optional() });
export const SnapshotSummarySchema = z
  .object({
    snapshotId: z.string(),
    kind: z.enum(['quarterly', 'annual']),
    period: z.string(),
    version: z.number(),
    supersedes: z.string().nullable(),
    status: SnapshotStatusSchema,
    rulesVersion: z.string(),
    tiePolicy: TiePolicySchema,
    dataCutoff: z.string(),
    rowCount: z.number(),
    totals: z.unknown(),
    contentSha256: z.string(),
    noticeStart: z.string().nullable(),
    noticeEnd: z.string().nullable(),
    createdBy: z.string(),
    createdAt: z.string(),
  })
  .meta({ id: 'SnapshotSummary' });
export const TransitionSchema = z.object({ from: z.string().nullable(), to: z.string(), actor: z.string(), reason: z.string().nullable(), at: z.string() });
export const SnapshotDetailSchema = SnapshotSummarySchema.extend({ rows: z.array(RankingRowSchema), transitions: z.array(TransitionSchema) }).meta({ id: 'Snapshot' });
export const ReasonBodySchema = z.object({ reason: Reason.optional() }).meta({ id: 'ReasonBody' });
export const RequiredReasonBodySchema = z.object({ reason: Reason }).meta({ id: 'RequiredReasonBody' });
export const CorrectionBodySchema = z.object({ reason: Reason, tiePolicy: TiePolicySchema.optional() }).meta({ id: 'CorrectionBody' });
export const ExclusionBodySchema = z.object({ personId: UuidSchema, tapId: z.number().int().positive().nullish(), reason: Reason }).meta({ id: 'ExclusionBody' });
export const ExclusionResponseSchema = z.object({ exclusionId: z.number(), newVersion: SnapshotSummarySchema.nullable(), correctionPending: z.boolean() });
export const VerifyResponseSchema = z.object({ snapshotId: z.string(), storedSha256: z.string(), computedSha256: z.string(), ok: z.boolean() }).meta({ id: 'SnapshotVerification' });
export const DriftResponseSchema = z
  .object({
    snapshotId: z.string(),
    period: z.string(),
    dataCutoff: z.string(),
    measuredAt: z.string(),
    drifted: z.boolean(),
    changedRows: z.array(z.object({ personId: z.string(), snapshotRides: z.number(), liveRides: z.number(), snapshotRank: z.number(), liveRank: z.number().nullable() })),
    entrants: z.array(z.object({ personId: z.string(), liveRides: z.number(), liveRank: z.number() })),
    leavers: z.array(z.object({ personId: z.string(), snapshotRides: z.number(), snapshotRank: z.number() })),
    snapshotTotals: z.unknown(),
    liveTotals: z.unknown(),
  })
  .meta({ id: 'SnapshotDrift' });

export const ObjectionBodySchema = z.object({ personId: UuidSchema.nullish(), text: z.string().trim().min(1).max(4000) }).meta({ id: 'ObjectionBody' });
export const ObjectionIdParamsSchema = z.object({ id: z.coerce.number().int().positive() });
export const ResolveObjectionBodySchema = z.object({ resolution: Reason }).meta({ id: 'ResolveObjectionBody' });
export const ObjectionSchema = z
  .object({ id: z.number(), snapshotId: z.string(), personId: z.string().nullable(), text: z.string(), recordedBy: z.string(), recordedAt: z.string(), resolution: z.string().nullable(), resolvedBy: z.string().nullable(), resolvedAt: z.string().nullable() })
  .meta({ id: 'Objection' });

export const PaymentBodySchema = z
  .object({ personId: UuidSchema, amountCny: z.number().int().positive().optional(), reference: z.string().max(200).nullish(), paidAt: z.string().datetime({ offset: true }).optional() })
  .meta({ id: 'PaymentBody' });
export const PaymentResultSchema = z.object({ personId: z.string(), amountCny: z.number(), reference: z.string().nullable(), paidAt: z.string(), unpaidRemaining: z.number(), status: z.string() });
export const PaymentSchema = z.object({ personId: z.string(), amountCny: z.number(), reference: z.string().nullable(), paidAt: z.string(), recordedBy: z.string() }).meta({ id: 'Payment' });
export const CeremonySchema = z.object({ snapshotId: z.string(), period: z.string(), rows: z.array(RankingRowSchema) });

export const FormatQuerySchema = z.object({ format: z.enum(['csv', 'xlsx']).default('csv') });
export const TidesQuerySchema = z.object({ from: z.string().regex(/^\d{4}-\d{2}-\d{2}$/), to: z.string().regex(/^\d{4}-\d{2}-\d{2}$/) });

export const YearParamsSchema = z.object({ year: YearSchema });
export const ItemParamsSchema = z.object({ year: YearSchema, item: z.enum(ASSESSMENT_ITEMS) });
export const ItemBodySchema = z.object({ score: z.number().min(0).max(100), note: z.string().max(2000).nullish() }).meta({ id: 'AssessmentItemBody' });
export const TargetBodySchema = z.object({ target: z.number().int().positive(), reason: Reason.optional() }).meta({ id: 'VolumeTargetBody' });
export const BudgetBodySchema = z
  .object({ operatingSubsidyCny: z.number().int().min(0), preProgrammeSubsidyCny: z.number().int().min(0), reason: Reason.optional() })
  .meta({ id: 'SubsidyBudgetBody' });
export const VolumeReportSchema = z
  .object({
    year: z.number(),
    rulesVersion: z.string(),
    target: z.number().nullable(),
    targetSource: z.string(),
    targetSourceReason: ExplanationReasonSchema,
    boardings: z.number(),
    completionPercent: z.number().nullable(),
    volumeScore: z.number().nullable(),
    explanation: z.string(),
    reason: ExplanationReasonSchema,
    monthly: z.array(
      z.object({ month: z.string(), boardings: z.number(), target: z.number().nullable(), completionPercent: z.number().nullable(), explanation: z.string(), reason: ExplanationReasonSchema }),
    ),
  })
  .meta({ id: 'VolumeReport' });
export const OperatorScoreSchema = z
  .object({
    year: z.number(),
    rulesVersion: z.string(),
    volume: z.object({ boardings: z.number(), target: z.number(), completionPercent: z.number().nullable() }),
    items: z.array(z.object({ item: z.string(), score: z.number(), max: z.number().nullable(), explanation: z.string(), reason: ExplanationReasonSchema })),
    sum: z.number(),
    total: z.number(),
    complete: z.boolean(),
    explanation: z.string(),
    reason: ExplanationReasonSchema,
    subsidy: z
      .object({
        score: z.number(), band: z.enum(['bonus', 'full', 'deduction']), linkedBaseCny: z.number(), wholePoints: z.number(), adjustmentCny: z.number(),
        settledCny: z.number(), cityCny: z.number(), districtCny: z.number(), explanations: z.array(z.string()), reasons: z.array(ExplanationReasonSchema),
      })
      .nullable(),
    subsidyExplanation: z.string().nullable(),
    subsidyReason: ExplanationReasonSchema.nullable(),
  })
  .meta({ id: 'OperatorScore' });

export const ErrorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) })
  .meta({ id: 'Error' });
