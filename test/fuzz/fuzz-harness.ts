/**
 * The fuzz suite's harness: the whole platform (validator API, rider app API, staff API, console) on a
 * random port against a fresh migrated PostgreSQL database, credentials for each surface, a checksum
 * of every table, and one `send` that checks each answer (no 5xx, JSON error shape, nothing written
 * by a refused request).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { sql, type Database } from '../../packages/db/src/index';
import { createTestDatabase, type TestDatabase } from '../../packages/db/src/testing/index';
import { createKeyring, type Keyring } from '../../packages/keyring/src/index';
import { createApiClient } from '../../packages/registry/src/index';
import { createLogger, createMetricsRegistry } from '../../packages/telemetry/src/index';
import { createPlatform, type Platform } from '../../services/platform/src/platform';
import { createStaffUser, STAFF_ROLES, toContext } from '../../services/reward/src/index';
import { addTestDevice } from '../../services/tap-ingest/src/testing/ingest-test-kit';

/** Requests per fuzz property: `FUZZ_RUNS` (the CI size by default; `pnpm test:fuzz` sets the full size). */
export const FUZZ_RUNS = Math.max(1, Number(process.env.FUZZ_RUNS ?? 20));
/** A fixed seed unless `FUZZ_SEED` is set, so a failure in CI reproduces. */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20260101);

export const DEVICE_ID = 'fuzz-dev-1';
export const DEVICE_VEHICLE = 'V0123';

export interface Sent {
  method: string;
  path: string;
  status: number;
  contentType: string;
  text: string;
  json: unknown;
}

export interface Tally {
  requests: number;
  byStatus: Record<string, number>;
  refusedChecked: number;
}

export interface FuzzPlatform {
  url: string;
  db: TestDatabase;
  keyring: Keyring;
  platform: Platform;
  deviceSecret: string;
  clientToken: string;
  /** A staff session holding every role (the right role for every staff endpoint). */
  staffToken: string;
  tally: Tally;
  checksums(): Promise<Map<string, string>>;
  close(): Promise<void>;
}

/**
 * Columns that legitimately change on a refused request, left out of the checksum:
 * - devices.last_seen_at: an authenticated device was seen even if its body is then refused (400),
 *   written by a periodic flush that can fall in any request.
 */
const VOLATILE_COLUMNS: Record<string, string[]> = { devices: ['last_seen_at'] };

/** A function returning, per table, its row count and an order-independent sum of row hashes. */
export function createTableChecksums(database: Database): () => Promise<Map<string, string>> {
  let checksumSql: string | undefined;
  return async () => {
    if (!checksumSql) {
      const tables =
        // every table, partitions through their parent (a partition's rows are counted in its parent)
        (
          await sql<{
            table_name: string;
          }>`select c.relname as table_name from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition and c.relname not like 'kysely_%' order by 1`.execute(
            database,
          )
        ).rows.map((r) => r.table_name);
      checksumSql = tables
        .map((t) => {
          const cols = VOLATILE_COLUMNS[t];
          const row = cols ? `(to_jsonb(x)${cols.map((c) => ` - '${c}'`).join('')})::text` : 'x::text';
          // count and an order-independent sum of 64-bit row hashes: any insert, update or delete shows
          return `select '${t}' as t, count(*)::text || ':' || coalesce(sum(hashtextextended(${row}, 0)), 0)::text as c from "${t}" x`;
        })
        .join(' union all ');
    }
    const rows = await sql<{ t: string; c: string }>`${sql.raw(checksumSql)}`.execute(database);
    return new Map(rows.rows.map((r) => [r.t, r.c]));
  };
}

export async function startFuzzPlatform(): Promise<FuzzPlatform> {
  const db = await createTestDatabase(6);
  const keyring = createKeyring({ current: randomBytes(32) });
  const logger = createLogger({ level: process.env.FUZZ_LOG_LEVEL ?? 'silent', service: 'fuzz' });
  const platform = await createPlatform({
    db: db.db,
    keyring,
    logger,
    registry: createMetricsRegistry('fuzz', false),
    // No per-device rate limit here: the fuzz wants every signed request to reach the body checks
    // (the limit itself is tested in test/abuse).
    ingestConfig: { deviceRatePerS: 0 },
  });
  const server: Server = await new Promise((resolve) => {
    const s = platform.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const deviceSecret = await addTestDevice(db.db, keyring, DEVICE_ID, DEVICE_VEHICLE);
  const { token: clientToken } = await createApiClient({ db: db.db, keyring }, 'fuzz client');
  const ctx = toContext({ db: db.db, keyring, logger });
  const password = `pw-${randomBytes(12).toString('hex')}`;
  await createStaffUser(ctx, 'fuzz', { username: 'fuzz-all-roles', roles: [...STAFF_ROLES], password });
  const login = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'fuzz-all-roles', password }),
  });
  if (login.status !== 200) throw new Error(`staff login failed: ${login.status}`);
  const staffToken = ((await login.json()) as { token: string }).token;

  const checksums = createTableChecksums(db.db);

  return {
    url,
    db,
    keyring,
    platform,
    deviceSecret,
    clientToken,
    staffToken,
    tally: { requests: 0, byStatus: {}, refusedChecked: 0 },
    checksums,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await platform.close();
      await db.drop();
    },
  };
}

/** Percent-encodes any string byte by byte (lone surrogates become U+FFFD, as a client would send them). */
export function encodeSegment(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

export interface FuzzRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** One request; the answer parsed. Throws on a network error (a crash or a dropped connection). */
export async function sendRaw(base: string, r: FuzzRequest): Promise<Sent> {
  const res = await fetch(base + r.path, { method: r.method, headers: r.headers, body: r.body });
  const buf = Buffer.from(await res.arrayBuffer());
  const text = buf.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return {
    method: r.method,
    path: r.path,
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    text,
    json,
  };
}

/** What every answer must satisfy: no 5xx, and an error (4xx) is `{ error: { code, message } }` as JSON. */
export function problemsOf(s: Sent): string[] {
  const problems: string[] = [];
  if (s.status >= 500) problems.push(`5xx: ${s.status} ${s.text.slice(0, 300)}`);
  // 431 comes from Node's HTTP parser (request line + headers over 16 KiB) before any application
  // code runs: an empty body by design of node:http; the only non-JSON refusal allowed.
  if (s.status >= 400 && s.status !== 431) {
    if (!s.contentType.startsWith('application/json')) problems.push(`error is not JSON (${s.contentType})`);
    const e = (s.json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    if (typeof e?.code !== 'string' || typeof e.message !== 'string')
      problems.push(`error shape: ${s.text.slice(0, 200)}`);
  }
  return problems;
}

export function diffChecksums(before: Map<string, string>, after: Map<string, string>): string[] {
  const changed: string[] = [];
  for (const [t, c] of after) if (before.get(t) !== c) changed.push(t);
  return changed;
}

const lastChecksums = new WeakMap<FuzzPlatform, Map<string, string>>();

export interface SendOptions {
  /** Tables a refused request of this kind may change, with the reason (asserted precisely elsewhere). */
  allowedOnRefusal?: string[];
}

/**
 * Sends one request and checks it: the answer's shape, and — when it was refused (4xx) — that no
 * table changed. After an accepted request the aggregator is drained first, so its asynchronous
 * writes do not show up as a later request's.
 */
export async function sendChecked(p: FuzzPlatform, r: FuzzRequest, opts: SendOptions = {}): Promise<Sent> {
  // the checksums after the previous request are this one's "before" (one scan per request)
  const before = lastChecksums.get(p) ?? (await p.checksums());
  let s: Sent;
  try {
    s = await sendRaw(p.url, r);
  } catch (err) {
    throw new Error(`${r.method} ${r.path}: no answer (${(err as Error).message})`);
  }
  p.tally.requests++;
  p.tally.byStatus[String(s.status)] = (p.tally.byStatus[String(s.status)] ?? 0) + 1;
  const problems = problemsOf(s);
  if (s.status < 400) await p.platform.aggregator.waitUntilIdle(30_000);
  const after = await p.checksums();
  lastChecksums.set(p, after);
  if (s.status >= 400 && s.status < 500) {
    const changed = diffChecksums(before, after).filter((t) => !(opts.allowedOnRefusal ?? []).includes(t));
    p.tally.refusedChecked++;
    if (changed.length) problems.push(`refused with ${s.status} but changed ${changed.join(', ')}`);
  }
  if (problems.length) throw new Error(`${r.method} ${r.path.slice(0, 200)} → ${problems.join('; ')} (body: ${JSON.stringify(String(r.body ?? '').slice(0, 400))})`);
  return s;
}

/** fast-check parameters shared by the suite; a failure reports the request (not megabytes of counterexample). */
export function fuzzParams(numRuns = FUZZ_RUNS): {
  numRuns: number;
  seed: number;
  endOnFailure: true;
  reporter: (out: {
    failed: boolean;
    errorInstance?: unknown;
    seed: number;
    counterexamplePath?: string | null;
  }) => void;
} {
  return {
    numRuns,
    seed: FUZZ_SEED,
    endOnFailure: true,
    reporter(out) {
      if (out.failed)
        throw new Error(
          `fuzz failure (seed ${out.seed}, path ${out.counterexamplePath ?? '-'}): ${String((out.errorInstance as Error | undefined)?.message ?? out.errorInstance).slice(0, 2000)}`,
        );
    },
  };
}
