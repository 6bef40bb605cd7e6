/**
 * The audit log: append-only (a trigger refuses UPDATE and DELETE) and hash-chained. Appends are
 * serialised with a transaction-scoped advisory lock so the chain is linear: each row's prev_hash is
 * the hash of the row before it in id order, and hash = SHA-256(prev_hash + canonical content).
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

// types.ts declares generated columns as Generated<Timestamp> / Generated<Int8>, which Kysely does not
// unwrap (a nested ColumnType): these casts state the real runtime types (Date, number).

/** Advisory lock key for the audit chain ('audit' in ASCII). */
const AUDIT_LOCK = 0x61756469;
export const AUDIT_GENESIS = '0'.repeat(64);

export interface AuditEntry {
  actor: string;
  action: string;
  subject?: string | null;
  reason?: string | null;
  details?: Record<string, unknown>;
}

function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}

export function auditHash(prevHash: string, row: { at: Date; actor: string; action: string; subject: string | null; reason: string | null; details: unknown }): string {
  const content = canonical({ at: row.at.toISOString(), actor: row.actor, action: row.action, subject: row.subject, reason: row.reason, details: row.details ?? {} });
  return createHash('sha256').update(prevHash).update(content).digest('hex');
}

async function appendInTransaction(trx: Transaction<DB>, entry: AuditEntry, at: Date): Promise<number> {
  await sql`SELECT pg_advisory_xact_lock(${AUDIT_LOCK})`.execute(trx);
  const last = await trx.selectFrom('audit_log').select('hash').orderBy('id', 'desc').limit(1).executeTakeFirst();
  const prevHash = last?.hash ?? AUDIT_GENESIS;
  const row = { at, actor: entry.actor, action: entry.action, subject: entry.subject ?? null, reason: entry.reason ?? null, details: entry.details ?? {} };
  const hash = auditHash(prevHash, row);
  const inserted = await trx
    .insertInto('audit_log')
    .values({ ...row, at: at, details: JSON.stringify(row.details), prev_hash: prevHash, hash })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(inserted.id);
}

/** Appends one entry; pass the transaction that makes the change so both commit or neither. */
export async function appendAudit(db: Db, entry: AuditEntry, at: Date): Promise<number> {
  if (db.isTransaction) return appendInTransaction(db as Transaction<DB>, entry, at);
  return db.transaction().execute((trx) => appendInTransaction(trx, entry, at));
}

export interface AuditRow {
  id: number;
  at: Date;
  actor: string;
  action: string;
  subject: string | null;
  reason: string | null;
  details: unknown;
}

export async function listAudit(db: Db, opts: { afterId?: number; limit: number; subject?: string }): Promise<AuditRow[]> {
  let q = db.selectFrom('audit_log').select(['id', 'at', 'actor', 'action', 'subject', 'reason', 'details']).orderBy('id').limit(opts.limit);
  if (opts.afterId !== undefined) q = q.where('id', '>', opts.afterId);
  if (opts.subject !== undefined) q = q.where('subject', '=', opts.subject);
  const rows = await q.execute();
  return rows.map((r) => ({ ...r, id: Number(r.id), at: r.at }));
}

export interface AuditVerification {
  ok: boolean;
  checked: number;
  /** First row whose hash or link does not match, when not ok. */
  brokenAtId?: number;
  problem?: string;
}

/** Walks the chain in id order, recomputing every hash and link. */
export async function verifyAuditChain(db: Db, batch = 5000): Promise<AuditVerification> {
  let prev = AUDIT_GENESIS;
  let afterId = 0;
  let checked = 0;
  for (;;) {
    const rows = await db.selectFrom('audit_log').selectAll().where('id', '>', afterId).orderBy('id').limit(batch).execute();
    if (rows.length === 0) return { ok: true, checked };
    for (const raw of rows) {
      const r = { ...raw, id: Number(raw.id), at: raw.at };
      if (r.prev_hash !== prev) return { ok: false, checked, brokenAtId: r.id, problem: 'link to the previous row does not match (a row was deleted or edited)' };
      const expected = auditHash(prev, { at: r.at, actor: r.actor, action: r.action, subject: r.subject, reason: r.reason, details: r.details });
      if (expected !== r.hash) return { ok: false, checked, brokenAtId: r.id, problem: 'row content does not match its hash (the row was edited)' };
      prev = r.hash;
      afterId = r.id;
      checked++;
    }
  }
}
