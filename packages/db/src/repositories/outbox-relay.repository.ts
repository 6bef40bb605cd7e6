/**
 * The aggregator's side of the outbox: claim pending entries for the queue, re-claim stale ones,
 * lock one entry while applying it, mark it processed or record a failure.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

export interface OutboxRow {
  id: number;
  topic: string;
  payload: unknown;
  createdAt: Date;
  processedAt: Date | null;
}

/**
 * Marks up to `limit` never-enqueued pending entries as enqueued and returns them in id order.
 * SKIP LOCKED lets several relays run; call inside the transaction that also enqueues, so a failed
 * enqueue rolls the mark back.
 */
export async function claimUnenqueuedOutbox(
  db: Db,
  limit: number,
): Promise<{ id: number; createdAt: Date }[]> {
  const { rows } = await sql<{ id: number; created_at: Date }>`
    UPDATE outbox o SET enqueued_at = now()
    FROM (SELECT id FROM outbox WHERE processed_at IS NULL AND enqueued_at IS NULL ORDER BY id LIMIT ${limit} FOR UPDATE SKIP LOCKED) s
    WHERE o.id = s.id
    RETURNING o.id, o.created_at`.execute(db);
  return rows.map((r) => ({ id: r.id, createdAt: r.created_at })).sort((a, b) => a.id - b.id);
}

/** Pending entries enqueued more than `staleSeconds` ago (lost with a flushed Redis, say); re-marks them. */
export async function claimStaleOutbox(db: Db, staleSeconds: number, limit: number): Promise<number[]> {
  const { rows } = await sql<{ id: number }>`
    UPDATE outbox o SET enqueued_at = now()
    FROM (SELECT id FROM outbox WHERE processed_at IS NULL AND enqueued_at < now() - make_interval(secs => ${staleSeconds})
          ORDER BY id LIMIT ${limit} FOR UPDATE SKIP LOCKED) s
    WHERE o.id = s.id
    RETURNING o.id`.execute(db);
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

/** Pending entry ids in id order (the in-process runner's scan). */
export async function findPendingOutboxIds(db: Db, limit: number): Promise<number[]> {
  const { rows } = await sql<{
    id: number;
  }>`SELECT id FROM outbox WHERE processed_at IS NULL ORDER BY id LIMIT ${limit}`.execute(db);
  return rows.map((r) => r.id);
}

/** Locks one entry for the rest of the transaction (a second worker on it waits, then sees it processed). */
export async function lockOutboxEntry(db: Db, id: number): Promise<OutboxRow | undefined> {
  const { rows } = await sql<{
    id: number;
    topic: string;
    payload: unknown;
    created_at: Date;
    processed_at: Date | null;
  }>`
    SELECT id, topic, payload, created_at, processed_at FROM outbox WHERE id = ${id} FOR UPDATE`.execute(db);
  const row = rows[0];
  return (
    row && {
      id: row.id,
      topic: row.topic,
      payload: row.payload,
      createdAt: row.created_at,
      processedAt: row.processed_at,
    }
  );
}

export async function markOutboxProcessed(db: Db, ids: number | readonly number[]): Promise<void> {
  const list = typeof ids === 'number' ? [ids] : [...ids];
  await sql`UPDATE outbox SET processed_at = clock_timestamp() WHERE id = ANY(${list}::bigint[])`.execute(db);
}

/**
 * Locks up to `limit` more pending entries of a topic that no one else holds (SKIP LOCKED), so one
 * transaction can apply several tap batches and ratings at once under load; their own jobs then
 * find them done.
 */
export async function lockMorePendingOutbox(
  db: Db,
  topic: string,
  exceptId: number,
  limit: number,
): Promise<OutboxRow[]> {
  if (limit <= 0) return [];
  const { rows } = await sql<{
    id: number;
    topic: string;
    payload: unknown;
    created_at: Date;
    processed_at: Date | null;
  }>`
    SELECT id, topic, payload, created_at, processed_at FROM outbox
    WHERE processed_at IS NULL AND topic = ${topic} AND id <> ${exceptId}
    ORDER BY id LIMIT ${limit} FOR UPDATE SKIP LOCKED`.execute(db);
  return rows.map((r) => ({
    id: r.id,
    topic: r.topic,
    payload: r.payload,
    createdAt: r.created_at,
    processedAt: r.processed_at,
  }));
}

/** Records a failed attempt (the message holds references only). */
export async function recordOutboxFailure(db: Db, id: number, message: string): Promise<void> {
  await sql`UPDATE outbox SET attempts = attempts + 1, last_error = ${message.slice(0, 500)} WHERE id = ${id}`.execute(
    db,
  );
}

export async function countPendingOutbox(db: Db): Promise<number> {
  const r = await db
    .selectFrom('outbox')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('processed_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
