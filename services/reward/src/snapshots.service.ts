/**
 * R10-R12 snapshots: frozen lists with rules version, tie policy, data cut-off, rows, totals and
 * the SHA-256 of their canonical content. A correction is a new version superseding the old one; a
 * snapshot's rows never change, so late taps or recounts never alter it — they show up as drift.
 * A correction (including one caused by an R13 exclusion) takes the live counts at its own cut-off.
 */
import {
  findLatestVersion,
  findLiveRideCounts,
  findSnapshot,
  insertSnapshot,
  insertTransition,
  listSnapshotRows,
  listSnapshots,
  listTransitions,
  updateSnapshotStatus,
  type Database,
  type DB,
  type SnapshotRecord,
  type SnapshotRowRecord,
  type SnapshotStatus,
  type Transaction,
} from '@ridetally/db';
import {
  formatPeriod,
  isPeriodClosed,
  periodBounds,
  snapshotContentSha256,
  type Period,
  type Rules,
  type SnapshotContent,
  type TiePolicy,
} from '@ridetally/domain';
import { AppError } from '@ridetally/http';
import { audit, type Actor } from './audit.service';
import type { RewardContext } from './deps';
import { compileLiveList, parsePeriodOr400, toRankingRows } from './rankings.service';
import { tieReason } from './reasons';
import { rulesForYear } from './rules.service';

/** Statuses from which a list may still be corrected (a final or paid list is history). */
export const CORRECTABLE: readonly SnapshotStatus[] = ['draft', 'submitted', 'returned', 'approved', 'in_notice'];

export interface SnapshotSummary {
  snapshotId: string;
  kind: 'quarterly' | 'annual';
  period: string;
  version: number;
  supersedes: string | null;
  status: SnapshotStatus;
  rulesVersion: string;
  tiePolicy: TiePolicy;
  dataCutoff: string;
  rowCount: number;
  totals: unknown;
  contentSha256: string;
  noticeStart: string | null;
  noticeEnd: string | null;
  createdBy: string;
  createdAt: string;
}

const iso = (d: unknown) => (d as Date).toISOString();

export function toSummary(s: SnapshotRecord): SnapshotSummary {
  return {
    snapshotId: s.snapshot_id,
    kind: s.kind,
    period: s.period,
    version: s.version,
    supersedes: s.supersedes,
    status: s.status,
    rulesVersion: s.rules_version,
    tiePolicy: s.tie_policy,
    dataCutoff: iso(s.data_cutoff),
    rowCount: s.row_count,
    totals: s.totals,
    contentSha256: s.content_sha256,
    noticeStart: s.notice_start,
    noticeEnd: s.notice_end,
    createdBy: s.created_by,
    createdAt: iso(s.created_at),
  };
}

export function toRowDto(r: SnapshotRowRecord) {
  return {
    position: r.position,
    rank: r.rank,
    personId: r.person_id,
    nameMasked: r.name_masked,
    employerCode: r.employer_code,
    rides: r.rides,
    lastCountedAt: r.last_counted_at ? iso(r.last_counted_at) : null,
    awardCny: r.award_cny,
    tieNote: r.tie_note,
  };
}

function contentOf(s: SnapshotRecord, rows: readonly SnapshotRowRecord[]): SnapshotContent {
  return {
    kind: s.kind,
    period: s.period,
    rulesVersion: s.rules_version,
    rules: s.rules,
    tiePolicy: s.tie_policy,
    dataCutoff: iso(s.data_cutoff),
    rows: rows.map((r) => toRowDto(r)),
    totals: s.totals,
  };
}

export async function requireSnapshot(db: Database | Transaction<DB>, id: string, forUpdate = false): Promise<SnapshotRecord> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) throw new AppError('not_found', 'no such snapshot');
  const s = await findSnapshot(db, id, { forUpdate });
  if (!s) throw new AppError('not_found', 'no such snapshot');
  return s;
}

export function kindOf(p: Period): 'quarterly' | 'annual' {
  return p.kind === 'year' ? 'annual' : 'quarterly';
}

/** Compiles the live list and writes it as a new version; the caller holds the transaction. */
async function writeVersion(
  trx: Transaction<DB>,
  ctx: RewardContext,
  actor: Actor,
  opts: { period: Period; tiePolicy: TiePolicy; rules: Rules; version: number; supersedes: string | null },
): Promise<SnapshotRecord> {
  const now = ctx.now();
  const list = await compileLiveList(trx, opts.period, opts.tiePolicy, opts.rules);
  const rows = toRankingRows(list);
  const content: SnapshotContent = {
    kind: kindOf(opts.period),
    period: formatPeriod(opts.period),
    rulesVersion: opts.rules.version,
    rules: opts.rules,
    tiePolicy: opts.tiePolicy,
    dataCutoff: now.toISOString(),
    rows: rows.map(({ explanation: _e, ...r }) => r),
    totals: list.totals,
  };
  // Stored JSON must hash the same after a round trip: store exactly what was hashed.
  const rulesJson = JSON.parse(JSON.stringify(opts.rules)) as unknown;
  const totalsJson = JSON.parse(JSON.stringify(list.totals)) as unknown;
  const sha = snapshotContentSha256({ ...content, rules: rulesJson, totals: totalsJson });
  const snap = await insertSnapshot(
    trx,
    {
      kind: content.kind,
      period: content.period,
      version: opts.version,
      supersedes: opts.supersedes,
      rulesVersion: opts.rules.version,
      rules: rulesJson,
      tiePolicy: opts.tiePolicy,
      dataCutoff: now,
      totals: totalsJson,
      contentSha256: sha,
      createdBy: actor.username,
      createdAt: now,
    },
    rows.map((r) => ({ ...r, lastCountedAt: r.lastCountedAt ? new Date(r.lastCountedAt) : null })),
  );
  await insertTransition(trx, { snapshotId: snap.snapshot_id, from: null, to: 'draft', actor: actor.username, reason: opts.supersedes ? `correction of ${opts.supersedes}` : null, at: now });
  return snap;
}

/** R12: a list can be generated only once the period is over plus the grace period. */
export async function createSnapshot(ctx: RewardContext, actor: Actor, input: { period: string; tiePolicy: TiePolicy }): Promise<SnapshotSummary> {
  const period = parsePeriodOr400(input.period);
  const rules = await rulesForYear(ctx.db, period.year);
  const now = ctx.now();
  if (!isPeriodClosed(period, now, rules.periodGraceDays)) {
    const closes = periodBounds(period).end.plus({ days: rules.periodGraceDays });
    throw new AppError('conflict', `R12: ${formatPeriod(period)} can be snapshotted from ${closes.toISO()} (period end + ${rules.periodGraceDays} days grace); until then only live rankings exist`, {
      code: 'period_not_closed',
      closesAt: closes.toISO(),
    });
  }
  const snap = await ctx.db.transaction().execute(async (trx) => {
    const kind = kindOf(period);
    const latest = await findLatestVersion(trx, kind, formatPeriod(period));
    if (latest.current) {
      throw new AppError('conflict', `a ${kind} list for ${formatPeriod(period)} exists (version ${latest.current.version}, ${String(latest.current.status)}); make a correction instead`, {
        snapshotId: latest.current.snapshot_id,
      });
    }
    const s = await writeVersion(trx, ctx, actor, { period, tiePolicy: input.tiePolicy, rules, version: latest.maxVersion + 1, supersedes: null });
    await audit(trx, now, actor, 'snapshot.create', `snapshot:${s.snapshot_id}`, null, {
      kind, period: s.period, version: s.version, rows: s.row_count, sha256: s.content_sha256, tiePolicy: s.tie_policy,
    });
    return s;
  });
  return toSummary(snap);
}

/** A correction: a new version from live counts; the old one becomes superseded. */
export async function createCorrection(
  ctx: RewardContext,
  actor: Actor,
  snapshotId: string,
  reason: string,
  opts: { tiePolicy?: TiePolicy | undefined; trx?: Transaction<DB> } = {},
): Promise<SnapshotSummary> {
  const run = async (trx: Transaction<DB>) => {
    const now = ctx.now();
    const old = await requireSnapshot(trx, snapshotId, true);
    const status = old.status;
    if (!CORRECTABLE.includes(status)) throw new AppError('conflict', `a ${status} list cannot be corrected`);
    const period = parsePeriodOr400(old.period);
    const latest = await findLatestVersion(trx, old.kind, old.period);
    if (latest.current?.snapshot_id !== old.snapshot_id) throw new AppError('conflict', 'only the current version can be corrected');
    const rules = await rulesForYear(trx, period.year);
    const tiePolicy = opts.tiePolicy ?? old.tie_policy;
    const s = await writeVersion(trx, ctx, actor, { period, tiePolicy, rules, version: latest.maxVersion + 1, supersedes: old.snapshot_id });
    if (!(await updateSnapshotStatus(trx, old.snapshot_id, [status], 'superseded'))) throw new AppError('conflict', 'the list changed meanwhile; try again');
    await insertTransition(trx, { snapshotId: old.snapshot_id, from: status, to: 'superseded', actor: actor.username, reason, at: now });
    await audit(trx, now, actor, 'snapshot.correct', `snapshot:${s.snapshot_id}`, reason, {
      supersedes: old.snapshot_id, version: s.version, rows: s.row_count, sha256: s.content_sha256,
    });
    return s;
  };
  const snap = opts.trx ? await run(opts.trx) : await ctx.db.transaction().execute(run);
  return toSummary(snap);
}

export async function getSnapshot(ctx: RewardContext, id: string) {
  const s = await requireSnapshot(ctx.db, id);
  const [rows, transitions] = await Promise.all([listSnapshotRows(ctx.db, id), listTransitions(ctx.db, id)]);
  return {
    ...toSummary(s),
    // The tie note in figures for the answer only: toRowDto is the hashed content, left as frozen.
    rows: rows.map((r) => ({ ...toRowDto(r), tie: tieReason(r.tie_note) })),
    transitions: transitions.map((t) => ({ from: t.from_status, to: t.to_status, actor: t.actor, reason: t.reason, at: iso(t.at) })),
  };
}

export async function findSnapshots(ctx: RewardContext, filter: { period?: string | undefined; kind?: 'quarterly' | 'annual' | undefined; status?: SnapshotStatus | undefined }) {
  const rows = await listSnapshots(ctx.db, {
    ...(filter.period ? { period: filter.period } : {}),
    ...(filter.kind ? { kind: filter.kind } : {}),
    ...(filter.status ? { status: filter.status } : {}),
  });
  return rows.map(toSummary);
}

/** Recomputes the SHA-256 from the stored rows: proves the snapshot is unchanged. */
export async function verifySnapshot(ctx: RewardContext, id: string): Promise<{ snapshotId: string; storedSha256: string; computedSha256: string; ok: boolean }> {
  const s = await requireSnapshot(ctx.db, id);
  const rows = await listSnapshotRows(ctx.db, id);
  const computed = snapshotContentSha256(contentOf(s, rows));
  return { snapshotId: id, storedSha256: s.content_sha256, computedSha256: computed, ok: computed === s.content_sha256 };
}

/** R10 drift: how live counts differ from a snapshot now (late taps, recounts, exclusions). */
export async function snapshotDrift(ctx: RewardContext, id: string) {
  const s = await requireSnapshot(ctx.db, id);
  const rows = await listSnapshotRows(ctx.db, id);
  const period = parsePeriodOr400(s.period);
  const rules = s.rules as Rules;
  const live = await compileLiveList(ctx.db, period, s.tie_policy, rules);
  const liveByPerson = new Map(live.rows.map((r) => [r.row.personId, r]));
  const snapPersons = new Set(rows.map((r) => r.person_id));
  const counts = await findLiveRideCounts(ctx.db, s.period, rows.map((r) => r.person_id));
  const changed = rows
    .filter((r) => (counts.get(r.person_id) ?? 0) !== r.rides)
    .map((r) => ({ personId: r.person_id, snapshotRides: r.rides, liveRides: counts.get(r.person_id) ?? 0, snapshotRank: r.rank, liveRank: liveByPerson.get(r.person_id)?.row.rank ?? null }));
  const entrants = live.rows.filter((r) => !snapPersons.has(r.row.personId)).map((r) => ({ personId: r.row.personId, liveRides: r.row.rides, liveRank: r.row.rank }));
  const leavers = rows.filter((r) => !liveByPerson.has(r.person_id)).map((r) => ({ personId: r.person_id, snapshotRides: r.rides, snapshotRank: r.rank }));
  return {
    snapshotId: id,
    period: s.period,
    dataCutoff: iso(s.data_cutoff),
    measuredAt: ctx.now().toISOString(),
    drifted: changed.length + entrants.length + leavers.length > 0,
    changedRows: changed,
    entrants,
    leavers,
    snapshotTotals: s.totals,
    liveTotals: live.totals,
  };
}
