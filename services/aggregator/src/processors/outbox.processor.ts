/**
 * Applies outbox entries to the derived data, in one transaction with marking them processed: a
 * crash anywhere leaves the entries pending and the derived data as before, and running an entry twice
 * (a retried job, two workers) changes nothing the second time (the entry row is locked, then found
 * processed). Under load a `taps` or `rating` entry takes more pending ones of both topics with it
 * (SKIP LOCKED, up to the coalesce limits), and each person they affect is re-derived once, over the
 * union of their changed stretches. Work on the same persons / (medium, vehicle) keys is serialised by
 * advisory locks.
 */
import {
  applyBoardingChangesWithDeltas,
  findBatchBounds,
  findBatchPersonRangesIn,
  findCityRouteIds,
  findEmployerPersonIds,
  findRatingRefs,
  findRoutePersonIds,
  lockMorePendingOutbox,
  lockOutboxEntry,
  judgeIsolatedBatchTaps,
  lockBatchVolumeBuckets,
  lockPersonBuckets,
  lockVolumeRecompute,
  markOutboxProcessed,
  recordAnomalies,
  type Database,
  type DB,
  type OutboxEntry,
  type OutboxRow,
  type Transaction,
} from '@ridetally/db';
import { parsePeriod, periodBounds } from '@ridetally/domain';
import { z } from 'zod';
import { rederivePersons, rederiveVolume, type PersonChange } from '../rederive';
import { loadRuleBook } from '../rules';

const EntrySchema = z.discriminatedUnion('topic', [
  z.object({ topic: z.literal('taps'), payload: z.object({ batchId: z.number().int() }) }),
  z.object({ topic: z.literal('rating'), payload: z.object({ ratingId: z.number().int() }) }),
  z.object({
    topic: z.literal('person'),
    payload: z.object({ personId: z.string().uuid(), from: z.string().optional() }),
  }),
  z.object({ topic: z.literal('employer'), payload: z.object({ code: z.string() }) }),
  z.object({ topic: z.literal('route'), payload: z.object({ routeId: z.string() }) }),
  z.object({
    topic: z.literal('exclusion'),
    payload: z.object({ personId: z.string().uuid(), period: z.string() }),
  }),
]);

/** An entry that can never be applied (unknown topic, bad payload): not worth retrying. */
export class BadOutboxEntryError extends Error {
  override name = 'BadOutboxEntryError';
}

export interface ProcessResult {
  status: 'processed' | 'already-processed' | 'missing';
  /** The entries applied (this one first, then those coalesced with it); empty when none was. */
  applied: number[];
  /** When each applied entry was written (for the commit → counted lag). */
  createdAt: Date[];
  topic?: string;
}

export interface ProcessOptions {
  /** Pending tap batches applied together with a `taps` or `rating` entry (0: none). */
  coalesceTapBatches?: number;
  /** Pending ratings applied together with a `taps` or `rating` entry (0: none). */
  coalesceRatings?: number;
}

/** The entries that re-derive persons around known instants, and so can share one pass. */
type CountingEntry = Extract<OutboxEntry, { topic: 'taps' | 'rating' }>;
type OtherEntry = Exclude<OutboxEntry, CountingEntry>;

const isCounting = (e: OutboxEntry): e is CountingEntry => e.topic === 'taps' || e.topic === 'rating';

export async function processOutboxEntry(
  db: Database,
  outboxId: number,
  options: ProcessOptions = {},
): Promise<ProcessResult> {
  return db.transaction().execute(async (tx) => {
    const row = await lockOutboxEntry(tx, outboxId);
    if (!row) return { status: 'missing', applied: [], createdAt: [] };
    if (row.processedAt) return { status: 'already-processed', applied: [], createdAt: [], topic: row.topic };
    const parsed = EntrySchema.safeParse({ topic: row.topic, payload: row.payload });
    if (!parsed.success)
      throw new BadOutboxEntryError(`outbox ${outboxId}: unknown topic or bad payload (${row.topic})`);
    const entry = parsed.data;
    if (isCounting(entry)) {
      // Under load, apply several pending tap batches and ratings in one transaction: one pass over
      // their persons and keys. An entry that does not parse stays pending; its own job reports it.
      const more: { row: OutboxRow; entry: CountingEntry }[] = [];
      const limits = [
        ['taps', options.coalesceTapBatches ?? 0],
        ['rating', options.coalesceRatings ?? 0],
      ] as const;
      for (const [topic, limit] of limits) {
        for (const r of await lockMorePendingOutbox(tx, topic, outboxId, limit)) {
          const p = EntrySchema.safeParse({ topic: r.topic, payload: r.payload });
          if (p.success && isCounting(p.data)) more.push({ row: r, entry: p.data });
        }
      }
      await applyCountingEntries(tx, [entry, ...more.map((m) => m.entry)]);
      const applied = [outboxId, ...more.map((m) => m.row.id)];
      await markOutboxProcessed(tx, applied);
      return {
        status: 'processed',
        applied,
        createdAt: [row.createdAt, ...more.map((m) => m.row.createdAt)],
        topic: row.topic,
      };
    }
    await applyEntry(tx, entry);
    await markOutboxProcessed(tx, outboxId);
    return { status: 'processed', applied: [outboxId], createdAt: [row.createdAt], topic: row.topic };
  });
}

/**
 * Tap batches and ratings together: the persons whose media tapped in the batches (over the span of
 * their taps) and the raters (at the rated tap) are locked at once, in bucket order, and re-derived
 * once per person over the union of their stretches; then R14 for the batches' taps.
 */
async function applyCountingEntries(tx: Transaction<DB>, entries: readonly CountingEntry[]): Promise<void> {
  const batchIds = entries.flatMap((e) => (e.topic === 'taps' ? [e.payload.batchId] : []));
  const ratingIds = entries.flatMap((e) => (e.topic === 'rating' ? [e.payload.ratingId] : []));
  const rules = await loadRuleBook(tx);
  const cityRoutes = new Set(await findCityRouteIds(tx));
  const opts = { rules, cityRoutes, mode: 'incremental' as const };
  const bounds = batchIds.length > 0 ? await findBatchBounds(tx, batchIds) : undefined;
  const tapPersons = bounds ? await findBatchPersonRangesIn(tx, batchIds, bounds) : [];
  const ratings = await findRatingRefs(tx, ratingIds);
  const changes: PersonChange[] = [...tapPersons];
  for (const r of ratings)
    if (r.tapAtMs !== null) changes.push({ personId: r.personId, fromMs: r.tapAtMs, toMs: r.tapAtMs });
  await lockPersonBuckets(tx, [...tapPersons.map((p) => p.personId), ...ratings.map((r) => r.personId)]);
  if (bounds) {
    await lockVolumeRecompute(tx, false);
    await lockBatchVolumeBuckets(tx, batchIds, bounds);
  }
  const result = await rederivePersons(tx, changes, opts);
  if (ratings.length > 0) {
    // A rating whose tap is in none of the rater's re-derived rides: an unknown tap, or a medium
    // that was not theirs at the time.
    const ridden = new Set(result.rides.flatMap((r) => r.tapIds.map((id) => `${r.personId}|${id}`)));
    await recordAnomalies(
      tx,
      ratings
        .filter((r) => !ridden.has(`${r.personId}|${r.tapId}`))
        .map((r) => ({
          kind: 'rating_without_ride' as const,
          personId: r.personId,
          period: null,
          key: `rating:${r.ratingId}`,
          details: { ratingId: r.ratingId, tapId: r.tapId },
        })),
    );
  }
  if (!bounds) return;
  // R14: taps alone on their (medium, vehicle) within the window (most of them) are judged in one
  // statement; the other keys go through the per-key engine. One volume_daily upsert for both, last:
  // its rows are the ones concurrent workers wait for.
  const easy = await judgeIsolatedBatchTaps(tx, batchIds, bounds, rules.volumeRepeatSeconds);
  const hard = await rederiveVolume(tx, easy.hardKeys, { ...opts, dryRun: true });
  await applyBoardingChangesWithDeltas(tx, hard.changes, easy.deltas);
}

const ALL_TIME: Pick<PersonChange, 'fromMs' | 'toMs'> = { fromMs: -Infinity, toMs: Infinity };
const CHUNK = 200;

async function applyEntry(tx: Transaction<DB>, entry: OtherEntry): Promise<void> {
  const rules = await loadRuleBook(tx);
  const cityRoutes = new Set(await findCityRouteIds(tx));
  const opts = { rules, cityRoutes, mode: 'incremental' as const };
  switch (entry.topic) {
    case 'person': {
      const from = entry.payload.from ? Date.parse(entry.payload.from) : -Infinity;
      await lockPersonBuckets(tx, [entry.payload.personId]);
      await rederivePersons(
        tx,
        [
          {
            personId: entry.payload.personId,
            fromMs: Number.isNaN(from) ? -Infinity : from,
            toMs: Infinity,
            removals: true,
          },
        ],
        opts,
      );
      return;
    }
    case 'employer':
    case 'route': {
      const ids =
        entry.topic === 'employer'
          ? await findEmployerPersonIds(tx, entry.payload.code)
          : await findRoutePersonIds(tx, entry.payload.routeId);
      await lockPersonBuckets(tx, ids);
      for (let i = 0; i < ids.length; i += CHUNK) {
        await rederivePersons(
          tx,
          ids.slice(i, i + CHUNK).map((personId) => ({ personId, ...ALL_TIME, removals: true })),
          opts,
        );
      }
      return;
    }
    case 'exclusion': {
      let bounds: { start: number; end: number };
      try {
        const b = periodBounds(parsePeriod(entry.payload.period));
        bounds = { start: b.start.toMillis(), end: b.end.toMillis() };
      } catch {
        throw new BadOutboxEntryError(`outbox exclusion entry has a bad period`);
      }
      await lockPersonBuckets(tx, [entry.payload.personId]);
      await rederivePersons(
        tx,
        [{ personId: entry.payload.personId, fromMs: bounds.start, toMs: bounds.end - 1 }],
        opts,
      );
      return;
    }
  }
}
