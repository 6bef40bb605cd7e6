/**
 * Group commit: taps from concurrent requests are written together, in one transaction and one
 * multi-row statement, so many small requests do not cost many transactions. A group is flushed
 * when it holds `maxTaps` taps or `maxWaitMs` after its first request arrived; up to `maxInFlight`
 * groups commit at once (pipelining over the pg pool; PGlite has one connection, so 1). Each
 * request awaits its own outcomes, which exist only after the commit.
 *
 * Identity is (device, seq). Within a group the first occurrence of a key is its candidate; a later
 * one with the same content is a duplicate, with other content a seq_conflict. Keys that were not
 * inserted (already stored, possibly by a concurrent group) are classified by their stored
 * content hash in the same transaction; during a master-key rotation a stored hash made with the
 * previous key is the same content too (an ID-card tap whose holder is not re-keyed yet).
 */
import {
  findTapKeyHashes,
  insertQuarantinedTaps,
  insertTapGroup,
  type Database,
  type DatabaseHandle,
  type QuarantineRow,
  type TapInsertRow,
} from '@ridetally/db';

export type TapOutcome = 'accepted' | 'duplicate' | 'seq_conflict';

export interface PendingTap extends TapInsertRow {
  /** The tap as received: quarantined (through `GroupRequest.sanitise`) if it is a seq_conflict. */
  raw: unknown;
}

export interface GroupRequest {
  taps: PendingTap[];
  /**
   * Makes a received tap fit for quarantine (ID numbers replaced); called only for a seq_conflict.
   * One function per request rather than a closure per tap: the hot path allocates less.
   */
  sanitise: (raw: unknown) => unknown;
  /**
   * Set only while a previous master key is: the tap's content hash under that key, or null when it
   * has none (not an ID card). Called only for a key stored with another hash than `contentHash`, so
   * the hot path never pays for it.
   */
  previousContentHash?: ((tap: PendingTap) => string | null) | undefined;
  /** Taps already rejected by validation, quarantined in the same transaction. */
  quarantine: QuarantineRow[];
}

export interface GroupStats {
  requests: number;
  taps: number;
  accepted: number;
  durationMs: number;
  ok: boolean;
}

export interface GroupCommitter {
  /** Outcomes in the order of `req.taps`, once committed; rejects when the commit failed. */
  submit(req: GroupRequest): Promise<TapOutcome[]>;
  /** Flushes what is waiting and waits for every group in flight. */
  close(): Promise<void>;
}

export interface GroupCommitOptions {
  db: Database;
  /** PostgreSQL: the pool behind `db`, to run the group statement prepared (planned once per connection). */
  pool?: DatabaseHandle['pool'];
  maxTaps: number;
  maxWaitMs: number;
  maxInFlight: number;
  onGroup?: (stats: GroupStats) => void;
  /** Whether an error means the database is unreachable (then a group is not retried piecewise). */
  isUnavailable?: (err: unknown) => boolean;
}

interface Waiting {
  req: GroupRequest;
  resolve: (outcomes: TapOutcome[]) => void;
  reject: (err: unknown) => void;
}

export const SEQ_CONFLICT_MESSAGE = 'seq was already used by this device for a different tap';

const keyOf = (t: { deviceId: string; seq: number }) => `${t.deviceId}\u0000${t.seq}`;

/**
 * Writes one group; returns each request's outcomes. The taps, their ingest batch, its outbox entry
 * and the validation rejects are one statement (one atomic transaction, one round trip: under load
 * the round trips, not the rows, dominate). Keys that were not new are then classified by their
 * stored hash; seq conflicts are quarantined before anyone is answered.
 */
export async function commitGroup(db: Database, reqs: GroupRequest[], pool?: DatabaseHandle['pool']): Promise<TapOutcome[][]> {
  const candidates: PendingTap[] = [];
  const candidateByKey = new Map<string, PendingTap>();
  for (const r of reqs) {
    for (const t of r.taps) {
      const k = keyOf(t);
      if (!candidateByKey.has(k)) {
        candidateByKey.set(k, t);
        candidates.push(t);
      }
    }
  }
  const { inserted } = await insertTapGroup(
    db,
    candidates,
    reqs.flatMap((r) => r.quarantine),
    pool,
  );
  const insertedKeys = new Set(inserted.map((r) => keyOf({ deviceId: r.device_id, seq: r.seq })));
  // The hash each key is stored with: ours when we inserted it, else the one already there
  // (committed by an earlier request, or by a concurrent group this statement waited for).
  const storedHash = new Map<string, string>();
  const missing: PendingTap[] = [];
  for (const c of candidates) {
    const k = keyOf(c);
    if (insertedKeys.has(k)) storedHash.set(k, c.contentHash);
    else missing.push(c);
  }
  let hasShadows = candidates.length < reqs.reduce((n, r) => n + r.taps.length, 0);
  if (missing.length) {
    hasShadows = true;
    for (const row of await findTapKeyHashes(db, missing)) storedHash.set(keyOf({ deviceId: row.device_id, seq: row.seq }), row.content_hash);
  }
  if (!hasShadows) return reqs.map((r) => r.taps.map((): TapOutcome => 'accepted'));
  const conflicts: QuarantineRow[] = [];
  const outcomes = reqs.map((r) =>
    r.taps.map((t): TapOutcome => {
      const k = keyOf(t);
      if (candidateByKey.get(k) === t && insertedKeys.has(k)) return 'accepted';
      const stored = storedHash.get(k);
      if (stored === t.contentHash) return 'duplicate';
      // Stored before its holder was re-keyed: the same tap, hashed with the previous key.
      if (stored !== undefined && r.previousContentHash?.(t) === stored) return 'duplicate';
      conflicts.push({ deviceId: t.deviceId, seq: t.seq, receivedAt: t.receivedAt, code: 'seq_conflict', message: SEQ_CONFLICT_MESSAGE, payload: r.sanitise(t.raw) });
      return 'seq_conflict';
    }),
  );
  await insertQuarantinedTaps(db, conflicts);
  return outcomes;
}

export function createGroupCommitter(options: GroupCommitOptions): GroupCommitter {
  const { db, pool, maxTaps, maxWaitMs, maxInFlight, onGroup, isUnavailable = () => true } = options;
  let queue: Waiting[] = [];
  let queuedTaps = 0;
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;
  let due = false;
  const idle: (() => void)[] = [];

  async function run(group: Waiting[]): Promise<void> {
    const started = performance.now();
    const taps = group.reduce((n, w) => n + w.req.taps.length, 0);
    try {
      const outcomes = await commitGroup(
        db,
        group.map((w) => w.req),
        pool,
      );
      group.forEach((w, i) => w.resolve(outcomes[i]!));
      const accepted = outcomes.reduce((n, o) => n + o.filter((x) => x === 'accepted').length, 0);
      onGroup?.({ requests: group.length, taps, accepted, durationMs: performance.now() - started, ok: true });
    } catch (err) {
      onGroup?.({ requests: group.length, taps, accepted: 0, durationMs: performance.now() - started, ok: false });
      if (group.length > 1 && !isUnavailable(err)) {
        // Not an outage: isolate the request that caused it rather than fail its neighbours.
        for (const w of group) await run([w]);
      } else {
        for (const w of group) w.reject(err);
      }
    }
  }

  function take(): Waiting[] {
    const group: Waiting[] = [];
    let n = 0;
    while (queue.length && (group.length === 0 || n + queue[0]!.req.taps.length <= maxTaps)) {
      const w = queue.shift()!;
      n += w.req.taps.length;
      group.push(w);
    }
    queuedTaps -= n;
    return group;
  }

  function pump(): void {
    while (inFlight < maxInFlight && queue.length && (due || queuedTaps >= maxTaps)) {
      const group = take();
      if (queue.length === 0) {
        due = false;
        if (timer) clearTimeout(timer);
        timer = undefined;
      }
      inFlight++;
      void run(group).finally(() => {
        inFlight--;
        // Whatever queued while this group committed has waited long enough.
        if (queue.length) due = true;
        pump();
        if (inFlight === 0 && queue.length === 0) idle.splice(0).forEach((f) => f());
      });
    }
    if (queue.length && !timer && !due) {
      timer = setTimeout(() => {
        timer = undefined;
        due = true;
        pump();
      }, maxWaitMs);
    }
  }

  return {
    submit(req) {
      if (req.taps.length === 0 && req.quarantine.length === 0) return Promise.resolve([]);
      return new Promise<TapOutcome[]>((resolve, reject) => {
        queue.push({ req, resolve, reject });
        queuedTaps += req.taps.length;
        pump();
      });
    },
    async close() {
      due = true;
      pump();
      if (inFlight === 0 && queue.length === 0) return;
      await new Promise<void>((r) => idle.push(r));
      queue = [];
    },
  };
}
