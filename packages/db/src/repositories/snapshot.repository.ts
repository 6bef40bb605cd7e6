/** R10 snapshots: a frozen list and its rows. Rows are written once and never updated. */
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DB, SnapshotRowsTable, SnapshotsTable, SnapshotStatus } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

// types.ts declares generated columns as Generated<Timestamp> / Generated<Int8>, which Kysely does not
// unwrap (a nested ColumnType): these casts state the real runtime types (Date, number).
export type SnapshotRecord = Selectable<SnapshotsTable>;
export type SnapshotRowRecord = Selectable<SnapshotRowsTable>;

export interface NewSnapshot {
  kind: 'quarterly' | 'annual';
  period: string;
  version: number;
  supersedes: string | null;
  rulesVersion: string;
  rules: unknown;
  tiePolicy: 'shared' | 'first-reached';
  dataCutoff: Date;
  totals: unknown;
  contentSha256: string;
  createdBy: string;
  createdAt: Date;
}

export interface NewSnapshotRow {
  position: number;
  rank: number;
  personId: string;
  nameMasked: string;
  employerCode: string | null;
  rides: number;
  lastCountedAt: Date | null;
  awardCny: number | null;
  tieNote: string | null;
}

const ROW_BATCH = 1000;

export async function insertSnapshot(db: Db, s: NewSnapshot, rows: readonly NewSnapshotRow[]): Promise<SnapshotRecord> {
  const snap = await db
    .insertInto('snapshots')
    .values({
      kind: s.kind,
      period: s.period,
      version: s.version,
      supersedes: s.supersedes,
      rules_version: s.rulesVersion,
      rules: JSON.stringify(s.rules),
      tie_policy: s.tiePolicy,
      data_cutoff: s.dataCutoff,
      row_count: rows.length,
      totals: JSON.stringify(s.totals),
      content_sha256: s.contentSha256,
      created_by: s.createdBy,
      created_at: s.createdAt,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  for (let i = 0; i < rows.length; i += ROW_BATCH) {
    await db
      .insertInto('snapshot_rows')
      .values(
        rows.slice(i, i + ROW_BATCH).map((r) => ({
          snapshot_id: snap.snapshot_id,
          position: r.position,
          rank: r.rank,
          person_id: r.personId,
          name_masked: r.nameMasked,
          employer_code: r.employerCode,
          rides: r.rides,
          last_counted_at: r.lastCountedAt,
          award_cny: r.awardCny,
          tie_note: r.tieNote,
        })),
      )
      .execute();
  }
  return snap;
}

export async function findSnapshot(db: Db, snapshotId: string, opts: { forUpdate?: boolean } = {}): Promise<SnapshotRecord | undefined> {
  let q = db.selectFrom('snapshots').selectAll().where('snapshot_id', '=', snapshotId);
  if (opts.forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function listSnapshots(db: Db, filter: { period?: string; kind?: 'quarterly' | 'annual'; status?: SnapshotStatus } = {}): Promise<SnapshotRecord[]> {
  let q = db.selectFrom('snapshots').selectAll().orderBy('period', 'desc').orderBy('kind').orderBy('version', 'desc');
  if (filter.period) q = q.where('period', '=', filter.period);
  if (filter.kind) q = q.where('kind', '=', filter.kind);
  if (filter.status) q = q.where('status', '=', filter.status);
  return q.execute();
}

export async function listSnapshotRows(db: Db, snapshotId: string, opts: { maxRank?: number } = {}): Promise<SnapshotRowRecord[]> {
  let q = db.selectFrom('snapshot_rows').selectAll().where('snapshot_id', '=', snapshotId).orderBy('position');
  if (opts.maxRank !== undefined) q = q.where('rank', '<=', opts.maxRank);
  return q.execute();
}

/** The highest version of a list, and the current (non-superseded) one if any. Locks the period's rows. */
export async function findLatestVersion(db: Db, kind: 'quarterly' | 'annual', period: string): Promise<{ maxVersion: number; current: SnapshotRecord | undefined }> {
  // Serialise version numbering per (kind, period): two creators wait for each other.
  await sql`SELECT pg_advisory_xact_lock(hashtext(${`snapshot:${kind}:${period}`}))`.execute(db);
  const all = await db.selectFrom('snapshots').selectAll().where('kind', '=', kind).where('period', '=', period).orderBy('version', 'desc').execute();
  return { maxVersion: all[0]?.version ?? 0, current: all.find((s) => s.status !== 'superseded') };
}

/** Moves a snapshot from one status to another; false when it was not in `from` (lost a race). */
export async function updateSnapshotStatus(
  db: Db,
  snapshotId: string,
  from: readonly SnapshotStatus[],
  to: SnapshotStatus,
  notice?: { start: string; end: string },
): Promise<boolean> {
  const r = await db
    .updateTable('snapshots')
    .set({ status: to, ...(notice ? { notice_start: notice.start, notice_end: notice.end } : {}) })
    .where('snapshot_id', '=', snapshotId)
    .where('status', 'in', [...from])
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
