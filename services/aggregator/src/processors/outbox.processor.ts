/**
 * Applies one outbox entry to the derived data, in one transaction with marking it processed: a
 * crash anywhere leaves the entry pending and the derived data as before, and running an entry twice
 * (a retried job, two workers) changes nothing the second time (the entry row is locked, then found
 * processed). Work on the same persons / (medium, vehicle) keys is serialised by advisory locks.
 */
import {
  applyBoardingChangesWithDeltas,
  findBatchBounds,
  findBatchPersonRangesIn,
  findCityRouteIds,
  findEmployerPersonIds,
  findRatingRef,
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
  /** When each applied entry was written (for the commit → counted lag). */
  createdAt: Date[];
  topic?: string;
}

export interface ProcessOptions {
  /** Tap batches applied together with this one when pending (0: only this entry). */
  coalesceTapBatches?: number;
}

export async function processOutboxEntry(
  db: Database,
  outboxId: number,
  options: ProcessOptions = {},
): Promise<ProcessResult> {
  return db.transaction().execute(async (tx) => {
    const row = await lockOutboxEntry(tx, outboxId);
    if (!row) return { status: 'missing', createdAt: [] };
    if (row.processedAt) return { status: 'already-processed', createdAt: [], topic: row.topic };
    const parsed = EntrySchema.safeParse({ topic: row.topic, payload: row.payload });
    if (!parsed.success)
      throw new BadOutboxEntryError(`outbox ${outboxId}: unknown topic or bad payload (${row.topic})`);
    if (parsed.data.topic === 'taps') {
      // Under load, apply several pending tap batches in one transaction: one pass over their persons and keys.
      const more = (await lockMorePendingOutbox(tx, 'taps', outboxId, options.coalesceTapBatches ?? 0))
        .map((r) => ({ r, p: EntrySchema.safeParse({ topic: r.topic, payload: r.payload }) }))
        .filter((x) => x.p.success && x.p.data.topic === 'taps');
      const batchIds = [
        parsed.data.payload.batchId,
        ...more.map((x) => (x.p.data as { payload: { batchId: number } }).payload.batchId),
      ];
      await applyTapBatches(tx, batchIds);
      await markOutboxProcessed(tx, [outboxId, ...more.map((x) => x.r.id)]);
      return {
        status: 'processed',
        createdAt: [row.createdAt, ...more.map((x) => x.r.createdAt)],
        topic: row.topic,
      };
    }
    await applyEntry(tx, parsed.data);
    await markOutboxProcessed(tx, outboxId);
    return { status: 'processed', createdAt: [row.createdAt], topic: row.topic };
  });
}

async function applyTapBatches(tx: Transaction<DB>, batchIds: number[]): Promise<void> {
  const rules = await loadRuleBook(tx);
  const cityRoutes = new Set(await findCityRouteIds(tx));
  const opts = { rules, cityRoutes, mode: 'incremental' as const };
  const bounds = await findBatchBounds(tx, batchIds);
  const persons = await findBatchPersonRangesIn(tx, batchIds, bounds);
  await lockPersonBuckets(
    tx,
    persons.map((p) => p.personId),
  );
  await lockVolumeRecompute(tx, false);
  await lockBatchVolumeBuckets(tx, batchIds, bounds);
  await rederivePersons(tx, persons, opts);
  // R14: taps alone on their (medium, vehicle) within the window (most of them) are judged in one
  // statement; the other keys go through the per-key engine. One volume_daily upsert for both, last:
  // its rows are the ones concurrent workers wait for.
  const easy = await judgeIsolatedBatchTaps(tx, batchIds, bounds, rules.volumeRepeatSeconds);
  const hard = await rederiveVolume(tx, easy.hardKeys, { ...opts, dryRun: true });
  await applyBoardingChangesWithDeltas(tx, hard.changes, easy.deltas);
}

const ALL_TIME: Pick<PersonChange, 'fromMs' | 'toMs'> = { fromMs: -Infinity, toMs: Infinity };
const CHUNK = 200;

async function applyEntry(tx: Transaction<DB>, entry: OutboxEntry): Promise<void> {
  const rules = await loadRuleBook(tx);
  const cityRoutes = new Set(await findCityRouteIds(tx));
  const opts = { rules, cityRoutes, mode: 'incremental' as const };
  switch (entry.topic) {
    case 'taps':
      return applyTapBatches(tx, [entry.payload.batchId]);
    case 'rating': {
      const ref = await findRatingRef(tx, entry.payload.ratingId);
      if (!ref) return;
      await lockPersonBuckets(tx, [ref.personId]);
      const result =
        ref.tapAtMs === null
          ? { rides: [] }
          : await rederivePersons(
              tx,
              [{ personId: ref.personId, fromMs: ref.tapAtMs, toMs: ref.tapAtMs }],
              opts,
            );
      if (!result.rides.some((r) => r.tapIds.includes(ref.tapId))) {
        await recordAnomalies(tx, [
          {
            kind: 'rating_without_ride',
            personId: ref.personId,
            period: null,
            key: `rating:${ref.ratingId}`,
            details: { ratingId: ref.ratingId, tapId: ref.tapId },
          },
        ]);
      }
      return;
    }
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
