/**
 * The transactional outbox. Whoever changes a fact that counts (taps, ratings, bindings, roster,
 * employers, routes, exclusions) appends an entry in the same transaction; the aggregator's relay
 * turns pending entries into jobs, and marks them processed once applied. Payloads are references
 * only: never names, ID numbers or card numbers.
 */
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../types';

export type OutboxEntry =
  /** a group commit of taps (ingest_batches.batch_id) */
  | { topic: 'taps'; payload: { batchId: number } }
  /** a new rating */
  | { topic: 'rating'; payload: { ratingId: number } }
  /** a person's bindings or employments changed; re-derive their periods from `from` (ISO instant) on */
  | { topic: 'person'; payload: { personId: string; from?: string } }
  /** an employer's type or city-area flag changed: every employee's periods */
  | { topic: 'employer'; payload: { code: string } }
  /** a route was registered or its city-area flag changed: every rider of it */
  | { topic: 'route'; payload: { routeId: string } }
  /** an office exclusion was added or revoked */
  | { topic: 'exclusion'; payload: { personId: string; period: string } };

export type OutboxTopic = OutboxEntry['topic'];

export async function appendOutbox(db: Kysely<DB> | Transaction<DB>, entries: OutboxEntry | OutboxEntry[]): Promise<void> {
  const list = Array.isArray(entries) ? entries : [entries];
  if (list.length === 0) return;
  await db
    .insertInto('outbox')
    .values(list.map((e) => ({ topic: e.topic, payload: JSON.stringify(e.payload) })))
    .execute();
}
