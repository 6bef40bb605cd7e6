/**
 * The rider app's rating path through the real app over HTTP, as the simulator drives it: for each
 * day, one `GET /v1/persons/{id}/rides?from=<day-1>&to=<day>` per person, then `POST
 * /v1/rides/{tapId}/rating` on up to RATE_PER_DAY of that day's rides (persons in parallel,
 * CONCURRENCY; a person's ratings one after another). The database is populated first (PERSONS
 * riders, each with a bound transit card, 2–4 rides a day over all of 2022-Q2, a second tap in one
 * ride of three), so the statements meet realistic tables and every monthly partition.
 *   DB=postgres|pglite PERSONS=100 DAYS=5 pnpm exec tsx services/rider-app/bench/rating-path.bench.ts
 * (postgres: the PostgreSQL of the tests, TEST_DATABASE_URL; pglite: in memory). For an A/B run,
 * run the same file from a worktree of the old commit in the same session.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { migrateToLatest, openDatabase, sql, type DatabaseHandle } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { createApiClient } from '@ridetally/registry';
import { testKeyring } from '@ridetally/registry/testing';
import { createLogger } from '@ridetally/telemetry';
import { createRiderApp } from '../src/app';
import { QUARTER_DAYS, QUARTER_START, seedRatingBench } from './rating-path.seed';

const KIND = process.env.DB ?? 'postgres';
const PERSONS = Number(process.env.PERSONS ?? 100);
const DAYS = Number(process.env.DAYS ?? 5);
const RATE_PER_DAY = Number(process.env.RATE_PER_DAY ?? 2);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
/** The measured days: from the middle of the quarter (a full history before them). */
const FIRST_DAY = 45;
const DAY_MS = 86_400_000;

async function runPool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** Statements sent to the database (BEGIN and COMMIT included), counted at the driver. */
let statements = 0;

function countStatements(handle: DatabaseHandle): void {
  if (handle.pglite) {
    const pglite = handle.pglite;
    const query = pglite.query.bind(pglite);
    const exec = pglite.exec.bind(pglite);
    pglite.query = ((...args: Parameters<typeof query>) => (statements++, query(...args))) as typeof pglite.query;
    pglite.exec = ((...args: Parameters<typeof exec>) => (statements++, exec(...args)));
    return;
  }
  const counted = new WeakSet<object>();
  handle.pool!.on('acquire', (client) => {
    if (counted.has(client)) return;
    counted.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => (statements++, query(...args));
  });
}

/** CPU seconds of this process and (PostgreSQL) of the database's server processes, read from /proc. */
async function cpuSeconds(handle: DatabaseHandle): Promise<number> {
  const own = process.cpuUsage();
  let total = (own.user + own.system) / 1e6;
  if (handle.kind === 'postgres') {
    const { rows } = await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`.execute(handle.db);
    for (const { pid } of rows) {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        total += (Number(fields[11]) + Number(fields[12])) / 100;
      } catch {
        // the backend ended meanwhile
      }
    }
  }
  return total;
}

async function main(): Promise<void> {
  let clock = new Date(QUARTER_START + QUARTER_DAYS * DAY_MS);
  const now = () => new Date(clock);
  const handle = KIND === 'pglite' ? await openDatabase({}) : await createTestDatabase(10);
  if (KIND === 'pglite') await migrateToLatest(handle.db);
  countStatements(handle);
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const keyring = testKeyring();
  let server: Server | undefined;
  try {
    const personIds = await seedRatingBench(handle.db, now, PERSONS);
    const app = createRiderApp({ db: handle.db, keyring, logger: createLogger({ level: 'warn', service: 'bench', destination: sink }), now });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { token } = await createApiClient({ db: handle.db, keyring }, 'bench');
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    let listMs = 0;
    let rateMs = 0;
    const work = { list: { statements: 0, cpu: 0 }, rate: { statements: 0, cpu: 0 } };
    const measure = async <T>(phase: keyof typeof work, fn: () => Promise<T>): Promise<T> => {
      const c0 = await cpuSeconds(handle);
      const s0 = statements;
      const result = await fn();
      work[phase].statements += statements - s0;
      work[phase].cpu += (await cpuSeconds(handle)) - c0;
      return result;
    };
    let lists = 0;
    // The answers of the listings (which see the ratings of the day before), to compare two runs.
    const listed = createHash('sha256');
    const statuses: Record<string, number> = {};
    for (let d = FIRST_DAY; d < FIRST_DAY + DAYS; d++) {
      const dayStart = QUARTER_START + d * DAY_MS;
      clock = new Date(dayStart + DAY_MS + 3600_000);
      const date = new Date(dayStart + 8 * 3600_000).toISOString().slice(0, 10);
      const before = new Date(dayStart - DAY_MS + 8 * 3600_000).toISOString().slice(0, 10);
      // Persons in a fixed order per day, so the digest does not depend on response timing.
      const answers = new Map<string, string>();
      const todo: { personId: string; tapIds: number[]; at: number }[] = [];
      let t0 = performance.now();
      await measure('list', () => runPool(personIds, CONCURRENCY, async (personId) => {
        const res = await fetch(`${base}/v1/persons/${personId}/rides?from=${before}&to=${date}`, { headers });
        if (res.status !== 200) throw new Error(`rides: HTTP ${res.status} ${await res.text()}`);
        const body = await res.text();
        answers.set(personId, body);
        const { rides } = JSON.parse(body) as { rides: { tapIds: number[]; tappedAt: string }[] };
        lists++;
        const today = rides.filter((r) => Date.parse(r.tappedAt) >= dayStart).slice(0, RATE_PER_DAY);
        for (const r of today) todo.push({ personId, tapIds: r.tapIds, at: Date.parse(r.tappedAt) });
      }));
      listMs += performance.now() - t0;
      for (const personId of personIds) listed.update(answers.get(personId) ?? '');
      const byPerson = new Map<string, typeof todo>();
      for (const r of todo) byPerson.set(r.personId, [...(byPerson.get(r.personId) ?? []), r]);
      t0 = performance.now();
      await measure('rate', () => runPool([...byPerson.values()], CONCURRENCY, async (list) => {
        for (const r of list) {
          // Rate the ride's last tap (the transfer when there is one): the ride is found around it.
          const res = await fetch(`${base}/v1/rides/${r.tapIds[r.tapIds.length - 1]}/rating`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ personId: r.personId, score: 4, ratedAt: new Date(r.at + 1800_000).toISOString() }),
          });
          await res.text();
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        }
        // The person's first ride again, through its first tap: 409, the first rating stands.
        const first = list[0]!;
        const again = await fetch(`${base}/v1/rides/${first.tapIds[0]}/rating`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ personId: first.personId, score: 2, ratedAt: new Date(first.at + 3600_000).toISOString() }),
        });
        await again.text();
        statuses[again.status] = (statuses[again.status] ?? 0) + 1;
      }));
      rateMs += performance.now() - t0;
    }
    const ratings = Object.values(statuses).reduce((a, b) => a + b, 0);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ratings`.execute(handle.db);
    process.stdout.write(
      `${KIND}: ${lists} ride lists in ${(listMs / 1000).toFixed(2)} s (${((lists * 1000) / listMs).toFixed(0)}/s, ` +
        `${(work.list.statements / lists).toFixed(2)} statements and ${((work.list.cpu * 1000) / lists).toFixed(2)} ms CPU each); ` +
        `${ratings} ratings in ${(rateMs / 1000).toFixed(2)} s (${((ratings * 1000) / rateMs).toFixed(0)}/s, ` +
        `${(work.rate.statements / ratings).toFixed(2)} statements and ${((work.rate.cpu * 1000) / ratings).toFixed(2)} ms CPU each), statuses ${JSON.stringify(statuses)}, ` +
        `${rows[0]!.n} stored, listings digest ${listed.digest('hex').slice(0, 12)}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
    );
  } finally {
    const listening = server;
    if (listening) await new Promise<void>((resolve) => listening.close(() => resolve()));
    await ('drop' in handle ? (handle as TestDatabase).drop() : handle.close());
  }
}

await main();
