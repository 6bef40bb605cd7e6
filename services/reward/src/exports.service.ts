/**
 * Exports (SPEC §5): rankings and lists as CSV/XLSX, public notices as HTML/PDF, the payment list
 * for the ecology bureau (the only export with full names and ID numbers), and TIDES
 * fare_transactions. Every export is audited (who, what, how many rows — never the contents).
 */
import { DateTime } from 'luxon';
import { findEmployerNames, listPaymentListRows, listSnapshotRows, listTapsForExport, type TideTapRow } from '@ridetally/db';
import { startOfShanghaiDate, ZONE, type TiePolicy } from '@ridetally/domain';
import { AppError } from '@ridetally/http';
import { audit, type Actor } from './audit.service';
import type { RewardContext } from './deps';
import { csvLine, tabularFile, type Cell, type ExportFile } from './exports/tabular';
import { noticeTitle, renderNoticeHtml, renderNoticePdf, type NoticeContent } from './exports/notice';
import { liveRanking } from './rankings.service';
import { requireSnapshot, toRowDto } from './snapshots.service';

export const RANKING_COLUMNS = ['rank', 'person_id', 'name_masked', 'employer_code', 'rides', 'award_cny'] as const;

export function rankingCells(rows: readonly { rank: number; personId: string; nameMasked: string; employerCode: string | null; rides: number; awardCny: number | null }[]): Cell[][] {
  return rows.map((r) => [r.rank, r.personId, r.nameMasked, r.employerCode, r.rides, r.awardCny]);
}

export async function exportRanking(ctx: RewardContext, actor: Actor, input: { period: string; tiePolicy: TiePolicy; limit?: number | undefined; format: 'csv' | 'xlsx' }): Promise<ExportFile> {
  const r = await liveRanking(ctx.db, input.period, input.tiePolicy, input.limit);
  const file = await tabularFile(input.format, `ranking-${r.period}-${r.tiePolicy}`, r.period, RANKING_COLUMNS, rankingCells(r.rows));
  await audit(ctx.db, ctx.now(), actor, 'export.ranking', `period:${r.period}`, null, { format: input.format, rows: r.rows.length, tiePolicy: r.tiePolicy });
  return file;
}

export async function exportSnapshot(ctx: RewardContext, actor: Actor, snapshotId: string, format: 'csv' | 'xlsx'): Promise<ExportFile> {
  const s = await requireSnapshot(ctx.db, snapshotId);
  const rows = (await listSnapshotRows(ctx.db, snapshotId)).map(toRowDto);
  const file = await tabularFile(format, `${s.kind}-${s.period}-v${s.version}`, `${s.period} v${s.version}`, [...RANKING_COLUMNS, 'tie_note'], rows.map((r) => [...rankingCells([r])[0]!, r.tieNote]));
  await audit(ctx.db, ctx.now(), actor, 'export.snapshot', `snapshot:${snapshotId}`, null, { format, rows: rows.length });
  return file;
}

const PUBLISHED = ['in_notice', 'final', 'paid'];

async function noticeContent(ctx: RewardContext, snapshotId: string, requirePublished: boolean): Promise<NoticeContent> {
  const s = await requireSnapshot(ctx.db, snapshotId);
  if (requirePublished && !PUBLISHED.includes(String(s.status))) throw new AppError('not_found', 'no published notice with this id');
  const rows = await listSnapshotRows(ctx.db, snapshotId);
  const employers = await findEmployerNames(ctx.db, rows.map((r) => r.employer_code).filter((c): c is string => c !== null));
  const totals = s.totals as { totalCny?: number };
  return {
    title: noticeTitle(s.kind, s.period),
    period: s.period,
    kind: s.kind,
    version: s.version,
    noticeStart: s.notice_start,
    noticeEnd: s.notice_end,
    rows: rows.map((r) => ({ rank: r.rank, nameMasked: r.name_masked, employerName: r.employer_code ? (employers.get(r.employer_code) ?? r.employer_code) : null, rides: r.rides, awardCny: r.award_cny })),
    totalCny: totals.totalCny ?? null,
    contentSha256: s.content_sha256,
  };
}

/** The notice as HTML. The public route only serves published lists; staff may preview any. */
export async function noticeHtml(ctx: RewardContext, snapshotId: string, requirePublished: boolean): Promise<string> {
  return renderNoticeHtml(await noticeContent(ctx, snapshotId, requirePublished));
}

export async function noticePdf(ctx: RewardContext, snapshotId: string, requirePublished: boolean): Promise<ExportFile> {
  const n = await noticeContent(ctx, snapshotId, requirePublished);
  return { filename: `notice-${n.period}-v${n.version}.pdf`, contentType: 'application/pdf', body: await renderNoticePdf(n, ctx.cjkFontPath) };
}

export const PAYMENT_LIST_COLUMNS = ['rank', 'person_id', 'name', 'id_number', 'employer_code', 'rides', 'award_cny', 'paid_at', 'reference'] as const;

/** The payment list: full names and ID numbers, decrypted here only, for the ecology bureau. */
export async function exportPaymentList(ctx: RewardContext, actor: Actor, snapshotId: string, format: 'csv' | 'xlsx'): Promise<ExportFile> {
  const s = await requireSnapshot(ctx.db, snapshotId);
  if (s.kind !== 'annual' || !['final', 'paid'].includes(String(s.status))) throw new AppError('conflict', 'the payment list is drawn from a final annual list');
  const rows = await listPaymentListRows(ctx.db, snapshotId);
  const cells: Cell[][] = rows.map((r) => [
    r.rank,
    r.personId,
    r.nameCiphertext ? ctx.keyring.decryptString('pii', r.nameCiphertext) : null,
    r.idCiphertext ? ctx.keyring.decryptString('pii', r.idCiphertext) : null,
    r.employerCode,
    r.rides,
    r.awardCny,
    r.paidAt ? (r.paidAt).toISOString() : null,
    r.reference,
  ]);
  const file = await tabularFile(format, `payment-list-${s.period}-v${s.version}`, `${s.period} payments`, PAYMENT_LIST_COLUMNS, cells);
  await audit(ctx.db, ctx.now(), actor, 'export.payment_list', `snapshot:${snapshotId}`, null, { format, rows: rows.length });
  return file;
}

export const TIDES_COLUMNS = [
  'transaction_id', 'service_date', 'event_timestamp', 'location_ping_id', 'amount', 'currency_type', 'fare_action',
  'trip_id_performed', 'trip_id_scheduled', 'pattern_id', 'trip_stop_sequence', 'scheduled_stop_sequence', 'vehicle_id',
  'device_id', 'fare_id', 'stop_id', 'num_riders', 'fare_media_id', 'rider_category', 'fare_product', 'fare_period',
  'fare_capped', 'balance', 'token_id',
] as const;

/** TIDES fare_media_id of a medium (transit-standards.md). */
export function tidesFareMedia(t: Pick<TideTapRow, 'mediaType' | 'mediaKind'>): string {
  switch (t.mediaType) {
    case 'qr':
      return 'Optical scan';
    case 'transit_card':
    case 'id_card':
      return 'Smart card or ticket';
    case 'ecard':
      return t.mediaKind === 'alipay' ? 'Optical scan' : 'Mobile NFC';
  }
}

export function tidesRow(ctx: Pick<RewardContext, 'keyring'>, t: TideTapRow): Cell[] {
  const at = DateTime.fromJSDate(t.tappedAt).setZone(ZONE);
  return [
    `${t.deviceId}:${t.seq}`, at.toISODate(), at.toISO({ suppressMilliseconds: true }), null, 0, 'CNY', 'Enter',
    null, null, null, null, null, t.vehicleId,
    t.deviceId, null, t.stopId, 1, tidesFareMedia(t), null, null, null,
    'false', null, ctx.keyring.pseudonymise(t.mediaType, t.mediaKey),
  ];
}

const MAX_TIDES_DAYS = 366;

/** Streams TIDES fare_transactions for Shanghai dates [from, to] (inclusive) in pages. */
export async function streamTides(ctx: RewardContext, actor: Actor, fromDate: string, toDate: string, push: (chunk: string) => Promise<void>): Promise<number> {
  let from: DateTime;
  let to: DateTime;
  try {
    from = startOfShanghaiDate(fromDate);
    to = startOfShanghaiDate(toDate).plus({ days: 1 });
  } catch {
    throw new AppError('validation_failed', 'from and to must be calendar dates (yyyy-MM-dd)');
  }
  if (to <= from) throw new AppError('validation_failed', 'to must not be before from');
  if (to.diff(from, 'days').days > MAX_TIDES_DAYS) throw new AppError('validation_failed', `at most ${MAX_TIDES_DAYS} days per export`);
  await audit(ctx.db, ctx.now(), actor, 'export.tides_fare_transactions', null, null, { from: fromDate, to: toDate });
  // No BOM here: TIDES is read by programs, not by Excel.
  await push(csvLine(TIDES_COLUMNS));
  let after: { tappedAt: Date; tapId: number } | undefined;
  let n = 0;
  for (;;) {
    const page = await listTapsForExport(ctx.db, { from: from.toJSDate(), to: to.toJSDate(), limit: 5000, ...(after ? { after } : {}) });
    if (page.length === 0) return n;
    await push(page.map((t) => csvLine(tidesRow(ctx, t))).join(''));
    n += page.length;
    const last = page[page.length - 1]!;
    after = { tappedAt: last.tappedAt, tapId: last.tapId };
  }
}
