/**
 * R11 review workflow: draft → submitted (operator) → returned | approved (office) → in_notice for
 * `noticeDays` calendar days in Shanghai (office publishes) → final (office; only after the notice
 * has ended and every objection is resolved) → paid (annual lists, when the ecology bureau has
 * recorded every person's payment). Every transition writes snapshot_transitions and the audit log in
 * the same transaction; a concurrent transition loses cleanly with 409.
 */
import { DateTime } from 'luxon';
import {
  countOpenObjections,
  countUnpaidRows,
  findObjection,
  insertExclusion,
  insertObjection,
  insertPayment,
  insertTransition,
  listObjections,
  listPayments,
  listSnapshotRows,
  resolveObjection,
  updateSnapshotStatus,
  type SnapshotStatus,
} from '@ridetally/db';
import { ceremonyRows, shanghaiDate, ZONE } from '@ridetally/domain';
import { AppError } from '@ridetally/http';
import { audit, type Actor } from './audit.service';
import type { RewardContext } from './deps';
import { rulesForYear } from './rules.service';
import { CORRECTABLE, createCorrection, requireSnapshot, toRowDto, toSummary, type SnapshotSummary } from './snapshots.service';

export const WORKFLOW_ACTIONS = ['submit', 'return', 'approve', 'publish', 'finalize'] as const;
export type WorkflowAction = (typeof WORKFLOW_ACTIONS)[number];

const TRANSITIONS: Record<WorkflowAction, { from: readonly SnapshotStatus[]; to: SnapshotStatus; reasonRequired: boolean }> = {
  submit: { from: ['draft', 'returned'], to: 'submitted', reasonRequired: false },
  return: { from: ['submitted'], to: 'returned', reasonRequired: true },
  approve: { from: ['submitted'], to: 'approved', reasonRequired: false },
  publish: { from: ['approved'], to: 'in_notice', reasonRequired: false },
  finalize: { from: ['in_notice'], to: 'final', reasonRequired: false },
};

const iso = (d: unknown) => (d as Date).toISOString();

/** Notice dates: starts on today's Shanghai date, lasts `days` calendar days inclusive. */
export function noticeWindow(now: Date, days: number): { start: string; end: string } {
  const start = DateTime.fromJSDate(now).setZone(ZONE).startOf('day');
  return { start: start.toISODate()!, end: start.plus({ days: days - 1 }).toISODate()! };
}

export async function transition(ctx: RewardContext, actor: Actor, snapshotId: string, action: WorkflowAction, reason: string | null): Promise<SnapshotSummary> {
  const rule = TRANSITIONS[action];
  if (rule.reasonRequired && !reason?.trim()) throw new AppError('validation_failed', `${action} needs a reason`);
  return ctx.db.transaction().execute(async (trx) => {
    const now = ctx.now();
    const s = await requireSnapshot(trx, snapshotId, true);
    const status = s.status;
    if (!rule.from.includes(status)) {
      throw new AppError('conflict', `cannot ${action} a ${status} list (needs ${rule.from.join(' or ')})`, { status });
    }
    let notice: { start: string; end: string } | undefined;
    if (action === 'publish') {
      const rules = await rulesForYear(trx, Number(s.period.slice(0, 4)));
      notice = noticeWindow(now, rules.noticeDays);
    }
    if (action === 'finalize') {
      const today = shanghaiDate(now);
      if (!s.notice_end || today <= s.notice_end) {
        throw new AppError('conflict', `the public notice runs until ${s.notice_end ?? '?'} (Shanghai); finalise from the day after`, { noticeEnd: s.notice_end });
      }
      const open = await countOpenObjections(trx, snapshotId);
      if (open > 0) throw new AppError('conflict', `${open} objection(s) are not resolved yet`, { openObjections: open });
    }
    if (!(await updateSnapshotStatus(trx, snapshotId, [status], rule.to, notice))) throw new AppError('conflict', 'the list changed meanwhile; try again');
    await insertTransition(trx, { snapshotId, from: status, to: rule.to, actor: actor.username, reason, at: now });
    await audit(trx, now, actor, `snapshot.${action}`, `snapshot:${snapshotId}`, reason, { from: status, to: rule.to, ...(notice ? { noticeStart: notice.start, noticeEnd: notice.end } : {}) });
    const after = await requireSnapshot(trx, snapshotId);
    return toSummary(after);
  });
}

export async function recordObjection(ctx: RewardContext, actor: Actor, snapshotId: string, input: { personId?: string | null | undefined; text: string }) {
  return ctx.db.transaction().execute(async (trx) => {
    const now = ctx.now();
    const s = await requireSnapshot(trx, snapshotId, true);
    if (String(s.status) !== 'in_notice') throw new AppError('conflict', 'objections are recorded while the list is in public notice');
    const o = await insertObjection(trx, { snapshotId, personId: input.personId ?? null, text: input.text, recordedBy: actor.username, recordedAt: now });
    // The objection text may name people: the audit keeps its id, not its text.
    await audit(trx, now, actor, 'objection.record', `snapshot:${snapshotId}`, null, { objectionId: Number(o.id), personId: o.person_id });
    return toObjectionDto(o);
  });
}

export async function settleObjection(ctx: RewardContext, actor: Actor, objectionId: number, resolution: string) {
  return ctx.db.transaction().execute(async (trx) => {
    const now = ctx.now();
    const existing = await findObjection(trx, objectionId);
    if (!existing) throw new AppError('not_found', 'no such objection');
    const o = await resolveObjection(trx, objectionId, { resolution, resolvedBy: actor.username, resolvedAt: now });
    if (!o) throw new AppError('conflict', 'the objection is already resolved');
    await audit(trx, now, actor, 'objection.resolve', `snapshot:${o.snapshot_id}`, resolution, { objectionId });
    return toObjectionDto(o);
  });
}

function toObjectionDto(o: Awaited<ReturnType<typeof listObjections>>[number]) {
  return {
    id: Number(o.id),
    snapshotId: o.snapshot_id,
    personId: o.person_id,
    text: o.text,
    recordedBy: o.recorded_by,
    recordedAt: iso(o.recorded_at),
    resolution: o.resolution,
    resolvedBy: o.resolved_by,
    resolvedAt: o.resolved_at ? iso(o.resolved_at) : null,
  };
}

export async function objectionsOf(ctx: RewardContext, snapshotId: string) {
  await requireSnapshot(ctx.db, snapshotId);
  return (await listObjections(ctx.db, snapshotId)).map(toObjectionDto);
}

/** R11 payment of one person on a final annual list; the list becomes paid when everyone is. */
export async function recordPayment(
  ctx: RewardContext,
  actor: Actor,
  snapshotId: string,
  input: { personId: string; amountCny?: number | undefined; reference?: string | null | undefined; paidAt?: string | undefined },
) {
  return ctx.db.transaction().execute(async (trx) => {
    const now = ctx.now();
    const s = await requireSnapshot(trx, snapshotId, true);
    if (s.kind !== 'annual') throw new AppError('conflict', 'only annual award lists are paid');
    if (String(s.status) !== 'final') throw new AppError('conflict', `payments are recorded on a final list (this one is ${String(s.status)})`);
    const row = (await listSnapshotRows(trx, snapshotId)).find((r) => r.person_id === input.personId);
    if (!row || row.award_cny === null) throw new AppError('not_found', 'that person is not on this award list');
    if (input.amountCny !== undefined && input.amountCny !== row.award_cny) {
      throw new AppError('validation_failed', `the award for this person is ¥${row.award_cny}, not ¥${input.amountCny}`);
    }
    const paidAt = input.paidAt ? new Date(input.paidAt) : now;
    const p = await insertPayment(trx, { snapshotId, personId: input.personId, amountCny: row.award_cny, reference: input.reference ?? null, paidAt, recordedBy: actor.username, recordedAt: now });
    if (!p) throw new AppError('conflict', 'this person is already recorded as paid');
    await audit(trx, now, actor, 'payment.record', `snapshot:${snapshotId}`, null, { personId: input.personId, amountCny: row.award_cny });
    const unpaid = await countUnpaidRows(trx, snapshotId);
    if (unpaid === 0) {
      await updateSnapshotStatus(trx, snapshotId, ['final'], 'paid');
      await insertTransition(trx, { snapshotId, from: 'final', to: 'paid', actor: actor.username, reason: 'every award paid', at: now });
      await audit(trx, now, actor, 'snapshot.paid', `snapshot:${snapshotId}`, 'every award paid');
    }
    return { personId: p.person_id, amountCny: p.amount_cny, reference: p.reference, paidAt: iso(p.paid_at), unpaidRemaining: unpaid, status: unpaid === 0 ? 'paid' : 'final' };
  });
}

export async function paymentsOf(ctx: RewardContext, snapshotId: string) {
  await requireSnapshot(ctx.db, snapshotId);
  return (await listPayments(ctx.db, snapshotId)).map((p) => ({
    personId: p.person_id, amountCny: p.amount_cny, reference: p.reference, paidAt: iso(p.paid_at), recordedBy: p.recorded_by,
  }));
}

/** R11: the ceremony list, the top 100 of a final (or paid) annual list. */
export async function ceremonyList(ctx: RewardContext, snapshotId: string) {
  const s = await requireSnapshot(ctx.db, snapshotId);
  if (s.kind !== 'annual') throw new AppError('conflict', 'the ceremony list comes from an annual list');
  if (!['final', 'paid'].includes(String(s.status))) throw new AppError('conflict', 'the ceremony list is drawn from a final list');
  const rules = await rulesForYear(ctx.db, Number(s.period));
  const rows = ceremonyRows((await listSnapshotRows(ctx.db, snapshotId, { maxRank: rules.ceremonySize })).map(toRowDto), rules);
  return { snapshotId, period: s.period, rows };
}

/**
 * R13: an office exclusion with a reason. A person exclusion yields a new version at once (the
 * person leaves the list and everyone below moves up); a ride exclusion is recorded and announced to
 * the aggregator, and its effect reaches a list through a correction once the recount has run.
 */
export async function excludeFromSnapshot(
  ctx: RewardContext,
  actor: Actor,
  snapshotId: string,
  input: { personId: string; tapId?: number | null | undefined; reason: string },
) {
  return ctx.db.transaction().execute(async (trx) => {
    const now = ctx.now();
    const s = await requireSnapshot(trx, snapshotId, true);
    const status = s.status;
    if (!CORRECTABLE.includes(status)) throw new AppError('conflict', `a ${status} list cannot be corrected`);
    const onList = (await listSnapshotRows(trx, snapshotId)).some((r) => r.person_id === input.personId);
    if (!onList) throw new AppError('not_found', 'that person is not on this list');
    const e = await insertExclusion(trx, { personId: input.personId, period: s.period, tapId: input.tapId ?? null, reason: input.reason, createdBy: actor.username, createdAt: now });
    await audit(trx, now, actor, 'exclusion.create', `snapshot:${snapshotId}`, input.reason, { exclusionId: Number(e.id), personId: input.personId, tapId: input.tapId ?? null, period: s.period });
    if (input.tapId != null) return { exclusionId: Number(e.id), newVersion: null, correctionPending: true };
    const v = await createCorrection(ctx, actor, snapshotId, `R13 exclusion: ${input.reason}`, { trx });
    return { exclusionId: Number(e.id), newVersion: v, correctionPending: false };
  });
}
