/**
 * The HTTP driver: drives a running platform as the field does, through its public protocols only.
 * - validators: `POST /v1/taps`, signed per SPEC §3, at a chosen rate with bounded concurrency,
 *   one request at a time per device (as a validator does), retrying 429/503/5xx/network errors
 *   with exponential backoff (honouring Retry-After); a retry resends the same taps (same seqs);
 * - the rider app backend: registers riders and binds their media (`POST /v1/persons`,
 *   `POST /v1/persons/{id}/media`), then posts ratings (`POST /v1/rides/{tapId}/rating`), finding
 *   the platform's tap id through `GET /v1/persons/{id}/rides`.
 * No database access here: what needs the database (imports, device secrets) is the caller's.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { addDays } from './calendar';
import type { SimPerson } from './city.model';
import type { TapBatch } from './traffic.model';
import { batchBody, signBatch, type RatingRecord } from './wire';

export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}>;

export interface HttpCommon {
  baseUrl: string;
  fetch?: FetchLike;
  sleep?: (ms: number) => Promise<void>;
  /** Attempts per request before giving up (default 8). */
  maxAttempts?: number;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function isRetryable(status: number): boolean {
  return status === 429 || status === 503 || status === 502 || status === 504 || status === 500;
}

/** Backoff before attempt n+1: 250 ms × 2^n (max 30 s) with jitter, or the server's Retry-After. */
function backoffMs(attempt: number, retryAfter: string | null): number {
  const seconds = retryAfter !== null ? Number(retryAfter) : NaN;
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(60_000, seconds * 1000);
  const base = Math.min(30_000, 250 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

interface HttpResult {
  status: number;
  body: string;
}

/** One request with retries on 429/5xx and network errors; `build` is called per attempt. */
async function requestWithRetry(
  common: HttpCommon,
  build: () => { method: string; path: string; headers: Record<string, string>; body?: string },
  onRetry?: () => void,
): Promise<HttpResult> {
  const fetchImpl: FetchLike = common.fetch ?? fetch;
  const sleep = common.sleep ?? defaultSleep;
  const maxAttempts = common.maxAttempts ?? 8;
  let lastError = '';
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const req = build();
    try {
      const res = await fetchImpl(common.baseUrl.replace(/\/$/, '') + req.path, {
        method: req.method,
        headers: req.headers,
        body: req.body,
      });
      const body = await res.text();
      if (!isRetryable(res.status)) return { status: res.status, body };
      lastError = `HTTP ${res.status}`;
      if (attempt + 1 < maxAttempts) {
        onRetry?.();
        await sleep(backoffMs(attempt, res.headers.get('retry-after')));
      }
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
      if (attempt + 1 < maxAttempts) {
        onRetry?.();
        await sleep(backoffMs(attempt, null));
      }
    }
  }
  throw new Error(
    `${build().method} ${build().path.split('?')[0]} failed after ${maxAttempts} attempts: ${lastError}`,
  );
}

// ------------------------------------------------------------------------------------ validators

export interface TapPosterOptions extends HttpCommon {
  /** deviceId → secret (as `ridetally device add --json` prints it). */
  secrets: ReadonlyMap<string, string>;
  /** Requests in flight at most. */
  concurrency: number;
  /** Taps per second at most (undefined: as fast as the platform answers). */
  rate?: number | undefined;
  /** Unix seconds for X-Timestamp (default the clock). */
  nowSeconds?: () => number;
  /** Milliseconds clock for pacing (default Date.now). */
  nowMs?: () => number;
}

export interface TapPostStats {
  batches: number;
  requests: number;
  retries: number;
  accepted: number;
  duplicates: number;
  rejected: Record<string, number>;
  /** Batches that failed for good (status → count), e.g. 401 for an unknown device. */
  failed: Record<string, number>;
}

export interface TapPoster {
  /** Queues a batch; resolves once it is sent or queued within the concurrency bound. */
  post(batch: TapBatch): Promise<void>;
  /** Waits for every queued batch. */
  drain(): Promise<void>;
  readonly stats: TapPostStats;
}

export function createTapPoster(options: TapPosterOptions): TapPoster {
  const stats: TapPostStats = {
    batches: 0,
    requests: 0,
    retries: 0,
    accepted: 0,
    duplicates: 0,
    rejected: {},
    failed: {},
  };
  const nowSeconds = options.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  const sleep = options.sleep ?? defaultSleep;
  const limit = Math.max(1, options.concurrency);
  const deviceTail = new Map<string, Promise<void>>();
  const pending = new Set<Promise<void>>();
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  let nextSlotAt = 0;

  const acquire = async (): Promise<void> => {
    if (inFlight < limit) {
      inFlight++;
      return;
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else inFlight--;
  };
  const pace = async (taps: number): Promise<void> => {
    if (!options.rate) return;
    // Token bucket without burst: each batch starts when the previous batches' taps have "drained".
    const now = (options.nowMs ?? Date.now)();
    const start = Math.max(nextSlotAt, now);
    nextSlotAt = start + (taps / options.rate) * 1000;
    if (start > now) await sleep(start - now);
  };

  const send = async (batch: TapBatch): Promise<void> => {
    const body = batchBody(batch);
    const secret = options.secrets.get(batch.deviceId);
    if (secret === undefined) {
      stats.failed.no_secret = (stats.failed.no_secret ?? 0) + 1;
      return;
    }
    await pace(batch.taps.length);
    await acquire();
    try {
      const res = await requestWithRetry(
        options,
        () => {
          stats.requests++;
          const ts = nowSeconds();
          return {
            method: 'POST',
            path: '/v1/taps',
            headers: {
              'content-type': 'application/json',
              'x-device-id': batch.deviceId,
              'x-timestamp': String(ts),
              'x-signature': signBatch(secret, ts, body),
            },
            body,
          };
        },
        () => stats.retries++,
      );
      if (res.status !== 200) {
        stats.failed[String(res.status)] = (stats.failed[String(res.status)] ?? 0) + 1;
        return;
      }
      const parsed = JSON.parse(res.body) as {
        accepted?: number;
        duplicates?: number;
        rejected?: { code?: string }[];
      };
      stats.accepted += parsed.accepted ?? 0;
      stats.duplicates += parsed.duplicates ?? 0;
      for (const r of parsed.rejected ?? [])
        stats.rejected[r.code ?? 'unknown'] = (stats.rejected[r.code ?? 'unknown'] ?? 0) + 1;
    } catch (err) {
      stats.failed.network = (stats.failed.network ?? 0) + 1;
      throw err;
    } finally {
      release();
    }
  };

  let firstError: unknown;
  return {
    stats,
    async post(batch) {
      stats.batches++;
      // A validator sends one request at a time: chain the device's batches.
      const previous = deviceTail.get(batch.deviceId) ?? Promise.resolve();
      const task: Promise<void> = previous
        .then(() => send(batch))
        .catch((err: unknown) => {
          firstError ??= err;
        })
        .finally(() => {
          pending.delete(task);
          if (deviceTail.get(batch.deviceId) === task) deviceTail.delete(batch.deviceId);
        });
      deviceTail.set(batch.deviceId, task);
      pending.add(task);
      // Backpressure: never more than a few batches per slot waiting in memory.
      while (pending.size >= limit * 4) await Promise.race(pending);
    },
    async drain() {
      while (pending.size > 0) await Promise.all([...pending]);
      if (firstError)
        throw firstError instanceof Error
          ? firstError
          : new Error('a tap upload failed', { cause: firstError });
    },
  };
}

// ------------------------------------------------------------------------------------ rider app

export interface RiderAppOptions extends HttpCommon {
  /** Bearer token of a rider-app integration client (`ridetally client add --json`). */
  clientToken: string;
  concurrency: number;
}

async function runPool<T>(
  items: Iterable<T>,
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const iterator = items[Symbol.iterator]();
  const worker = async (): Promise<void> => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) await work(next.value);
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
}

function riderHeaders(options: RiderAppOptions): Record<string, string> {
  return { 'content-type': 'application/json', authorization: `Bearer ${options.clientToken}` };
}

export interface RegistrationStats {
  registered: number;
  bindings: number;
  bindingConflicts: number;
}

/**
 * Registers every registered rider of the city (real name) and binds their media with the same
 * intervals as media.csv; returns external_ref → platform person id. Idempotent: the platform
 * answers the same person id for the same ID number, and an existing binding answers 409.
 */
export async function registerRiders(
  options: RiderAppOptions,
  persons: readonly SimPerson[],
  onProgress?: (done: number) => void,
): Promise<{ personIds: Map<string, string>; stats: RegistrationStats }> {
  const personIds = new Map<string, string>();
  const stats: RegistrationStats = { registered: 0, bindings: 0, bindingConflicts: 0 };
  let done = 0;
  await runPool(
    persons.filter((p) => p.registered),
    options.concurrency,
    async (person) => {
      const res = await requestWithRetry(options, () => ({
        method: 'POST',
        path: '/v1/persons',
        headers: riderHeaders(options),
        body: JSON.stringify({ idNumber: person.idNumber, name: person.name, phone: person.phone }),
      }));
      if (res.status !== 200 && res.status !== 201)
        throw new Error(`registering ${person.ref}: HTTP ${res.status}`);
      const { personId } = JSON.parse(res.body) as { personId: string };
      personIds.set(person.ref, personId);
      stats.registered++;
      for (const m of person.media) {
        if (m.validFrom === null) continue;
        const bind = await requestWithRetry(options, () => ({
          method: 'POST',
          path: `/v1/persons/${personId}/media`,
          headers: riderHeaders(options),
          body: JSON.stringify({
            type: m.type,
            // ID numbers never travel in more places than needed: the own ID card is "self".
            id: m.type === 'id_card' ? 'self' : m.id,
            ...(m.kind ? { kind: m.kind } : {}),
            validFrom: m.validFrom,
            ...(m.validTo ? { validTo: m.validTo } : {}),
          }),
        }));
        if (bind.status === 201 || bind.status === 200) stats.bindings++;
        else if (bind.status === 409) stats.bindingConflicts++;
        else
          throw new Error(
            `binding a ${m.type} of ${person.ref}: HTTP ${bind.status} ${bind.body.slice(0, 200)}`,
          );
      }
      onProgress?.(++done);
    },
  );
  return { personIds, stats };
}

/** Posts one rating on the ride whose first tap is `tapId` and counts the answer. */
async function postRating(
  options: RiderAppOptions,
  stats: RatingPostStats,
  tapId: number,
  personId: string,
  record: RatingRecord,
): Promise<void> {
  const posted = await requestWithRetry(options, () => ({
    method: 'POST',
    path: `/v1/rides/${tapId}/rating`,
    headers: riderHeaders(options),
    body: JSON.stringify({ personId, score: record.score, ratedAt: record.ratedAt }),
  }));
  if (posted.status === 201 || posted.status === 200) stats.accepted++;
  else if (posted.status === 409) stats.duplicates++;
  else stats.refused[String(posted.status)] = (stats.refused[String(posted.status)] ?? 0) + 1;
}

export interface RatingPostStats {
  ratings: number;
  accepted: number;
  /** 409: the ride already has a rating (two ratings landed in one ride). */
  duplicates: number;
  /** Refused by status (a rating after the 7-day window is refused: expected). */
  refused: Record<string, number>;
  /** The rated tap was not found among the person's rides. */
  unresolved: number;
}

interface ApiRide {
  tapIds: number[];
  tappedAt: string;
  vehicleId: string;
}

/**
 * Posts the ratings of `ratings.ndjson` (in ride-day order) through the rider app API, a day at a
 * time: for each person with ratings that day, one `GET …/rides?from=<day-1>&to=<day>` gives the
 * tap ids, then each rating names its ride's first tap with the rider's `ratedAt`.
 */
export async function postRatings(
  options: RiderAppOptions,
  ratingsFile: string,
  personIds: ReadonlyMap<string, string>,
  onProgress?: (stats: RatingPostStats) => void,
): Promise<RatingPostStats> {
  const stats: RatingPostStats = { ratings: 0, accepted: 0, duplicates: 0, refused: {}, unresolved: 0 };
  let day = '';
  let buffer: RatingRecord[] = [];

  const flushDay = async (): Promise<void> => {
    const byPerson = new Map<string, RatingRecord[]>();
    for (const r of buffer) {
      const list = byPerson.get(r.personRef) ?? [];
      list.push(r);
      byPerson.set(r.personRef, list);
    }
    const date = day;
    buffer = [];
    await runPool(byPerson, options.concurrency, async ([ref, records]) => {
      const personId = personIds.get(ref);
      if (!personId) {
        stats.unresolved += records.length;
        return;
      }
      const res = await requestWithRetry(options, () => ({
        method: 'GET',
        path: `/v1/persons/${personId}/rides?from=${addDays(date, -1)}&to=${date}`,
        headers: riderHeaders(options),
      }));
      if (res.status !== 200) throw new Error(`listing rides of ${ref}: HTTP ${res.status}`);
      const rides = (JSON.parse(res.body) as { rides: ApiRide[] }).rides.map((r) => ({
        ...r,
        at: Date.parse(r.tappedAt),
      }));
      for (const record of records) {
        stats.ratings++;
        const tapAt = Date.parse(record.tappedAt);
        // The ride holding the rated tap: same vehicle, the latest one starting at or before it.
        const ride = rides
          .filter((r) => r.vehicleId === record.vehicleId && r.at <= tapAt)
          .sort((a, b) => b.at - a.at)[0];
        if (!ride || ride.tapIds.length === 0) {
          stats.unresolved++;
          continue;
        }
        await postRating(options, stats, ride.tapIds[0]!, personId, record);
      }
    });
    onProgress?.(stats);
  };

  const lines = createInterface({ input: createReadStream(ratingsFile), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const record = JSON.parse(line) as RatingRecord;
    const recordDay = record.tappedAt.slice(0, 10);
    if (recordDay !== day && buffer.length > 0) await flushDay();
    day = recordDay;
    buffer.push(record);
  }
  if (buffer.length > 0) await flushDay();
  return stats;
}

/** (deviceId, seq) → the platform's tap id, for the taps that are stored (a database lookup, the caller's). */
export type TapIdResolver = (
  keys: readonly { deviceId: string; seq: number }[],
) => Promise<ReadonlyMap<string, number>>;

/** The key a `TapIdResolver` answers under: `${deviceId}#${seq}`. */
export function tapKey(deviceId: string, seq: number): string {
  return `${deviceId}#${seq}`;
}

/**
 * Like `postRatings`, but the rated tap's id comes from `resolve` (one lookup per chunk of
 * `chunkSize` ratings, e.g. through `tap_keys`) instead of one `GET …/rides` per person and day —
 * what makes millions of ratings (scale 1) affordable. Each rating names the tap the rider rated;
 * the platform finds its ride. A person's ratings within a chunk go one after another, in file
 * order; persons in parallel (`concurrency`).
 */
export async function postRatingsByTapId(
  options: RiderAppOptions,
  ratingsFile: string,
  personIds: ReadonlyMap<string, string>,
  resolve: TapIdResolver,
  onProgress?: (stats: RatingPostStats) => void,
  chunkSize = 5000,
): Promise<RatingPostStats> {
  const stats: RatingPostStats = { ratings: 0, accepted: 0, duplicates: 0, refused: {}, unresolved: 0 };
  let buffer: RatingRecord[] = [];

  const flush = async (): Promise<void> => {
    const records = buffer;
    buffer = [];
    const tapIds = await resolve(records.map((r) => ({ deviceId: r.deviceId, seq: r.seq })));
    const byPerson = new Map<string, RatingRecord[]>();
    for (const r of records) {
      const list = byPerson.get(r.personRef) ?? [];
      list.push(r);
      byPerson.set(r.personRef, list);
    }
    await runPool(byPerson, options.concurrency, async ([ref, list]) => {
      const personId = personIds.get(ref);
      for (const record of list) {
        stats.ratings++;
        const tapId = tapIds.get(tapKey(record.deviceId, record.seq));
        if (!personId || tapId === undefined) {
          stats.unresolved++;
          continue;
        }
        await postRating(options, stats, tapId, personId, record);
      }
    });
    onProgress?.(stats);
  };

  const lines = createInterface({ input: createReadStream(ratingsFile), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    buffer.push(JSON.parse(line) as RatingRecord);
    if (buffer.length >= chunkSize) await flush();
  }
  if (buffer.length > 0) await flush();
  return stats;
}

/** `persons.csv`: how the verifier maps the ground truth's external refs to platform person ids. */
export function personsCsv(personIds: ReadonlyMap<string, string>): string {
  return (
    [
      'external_ref,person_id',
      ...[...personIds].sort(([a], [b]) => (a < b ? -1 : 1)).map(([ref, id]) => `${ref},${id}`),
    ].join('\n') + '\n'
  );
}
