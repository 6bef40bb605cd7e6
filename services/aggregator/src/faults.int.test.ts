/**
 * Fault tests on a private redis-server (random port; the shared one is never touched) and a fresh
 * database: worker processes (the real `main.ts`) are SIGKILLed mid-load, Redis is restarted empty
 * and FLUSHALLed mid-load. Afterwards every outbox entry is processed exactly once in effect: the
 * live counts and volume equal a full recompute, and volume counts every tap exactly once.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@ridetally/db';
import { freePort, createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { recomputePeriod } from './recompute';
import {
  insertBinding,
  insertEmployer,
  insertEmployment,
  insertPerson,
  insertRating,
  insertRoute,
  insertTapBatch,
} from './testing/fixtures';

const MAIN = join(import.meta.dirname, 'main.ts');


function startRedis(port: number, dir: string): void {
  const r = spawnSync('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'yes',
    '--dir',
    dir,
    '--pidfile',
    join(dir, 'redis.pid'),
    '--maxmemory-policy',
    'noeviction',
  ]);
  if (r.status !== 0) throw new Error('redis-server did not start');
}

function redisCli(port: number, ...args: string[]): string {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout.trim();
}

async function waitFor(
  cond: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('aggregation under faults (private Redis)', () => {
  let t: TestDatabase;
  let port: number;
  let dir: string;
  const workers: ChildProcess[] = [];

  const startWorker = (): ChildProcess => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: {
        ...process.env,
        DATABASE_URL: t.url,
        REDIS_URL: `redis://127.0.0.1:${port}`,
        AGGREGATOR_QUEUE_PREFIX: 'fault',
        AGGREGATOR_METRICS_PORT: '0',
        AGGREGATOR_STALE_SECONDS: '2',
        AGGREGATOR_CONCURRENCY: '2',
        DATABASE_POOL_SIZE: '4',
        LOG_LEVEL: 'silent',
      },
      stdio: 'ignore',
    });
    workers.push(child);
    return child;
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'rt-redis-'));
    startRedis(port, dir);
    await waitFor(() => redisCli(port, 'ping') === 'PONG', 5000, 'redis');
  });

  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    redisCli(port, 'shutdown', 'nosave');
    rmSync(dir, { recursive: true, force: true });
    await t.drop();
  });

  const pending = async () =>
    (await sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox WHERE processed_at IS NULL`.execute(t.db))
      .rows[0]!.n;
  const processed = async () =>
    (
      await sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox WHERE processed_at IS NOT NULL`.execute(
        t.db,
      )
    ).rows[0]!.n;

  it('refuses to start when Redis may evict keys', async () => {
    redisCli(port, 'config', 'set', 'maxmemory-policy', 'allkeys-lru');
    const child = startWorker();
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    redisCli(port, 'config', 'set', 'maxmemory-policy', 'noeviction');
    expect(code).toBe(1);
  });

  it('loses and double-counts nothing through SIGKILL, Redis restart and FLUSHALL', async () => {
    await insertEmployer(t.db, 'E1', 'agency', true);
    await insertRoute(t.db, 'R1', true);
    await insertRoute(t.db, 'R2', true);
    const persons: string[] = [];
    for (let i = 0; i < 20; i++) {
      const p = await insertPerson(t.db);
      persons.push(p);
      await insertEmployment(t.db, p, 'E1', '2022-04-01', null);
      await insertBinding(t.db, {
        personId: p,
        mediaType: 'qr',
        mediaKey: `acct-${i}`,
        from: '2022-04-01T00:00:00+08:00',
        to: null,
      });
    }
    const base = Date.parse('2023-05-10T07:00:00+08:00');
    let n = 0;
    const load = async (batches: number) => {
      for (let b = 0; b < batches; b++) {
        const taps = Array.from({ length: 60 }, () => {
          const k = n++;
          return {
            at: new Date(base + (k % 5000) * 37_000),
            vehicleId: `V${k % 7}`,
            routeId: k % 3 ? 'R1' : 'R2',
            mediaType: 'qr' as const,
            mediaKey: k % 4 ? `acct-${k % 20}` : `anon-${k % 50}`,
          };
        });
        const { tapIds } = await insertTapBatch(t.db, taps);
        // rate a few of the new taps (the ones of bound accounts)
        for (let i = 0; i < taps.length; i += 9) {
          const m = /^acct-(\d+)$/.exec(taps[i]!.mediaKey);
          if (!m) continue;
          await insertRating(t.db, {
            personId: persons[Number(m[1])]!,
            tapId: tapIds[i]!,
            tapAt: taps[i]!.at,
            ratedAt: new Date(taps[i]!.at.getTime() + 3_600_000),
          });
        }
      }
    };

    let worker = startWorker();
    await load(10);
    await waitFor(async () => (await processed()) > 5, 30_000, 'first entries processed');
    // 1. SIGKILL a worker in the middle of the load; a new one takes over
    worker.kill('SIGKILL');
    await load(10);
    worker = startWorker();
    await waitFor(async () => (await processed()) > 40, 30_000, 'processing after the kill');
    // 2. Redis restarted empty (no persistence): queued jobs are gone
    redisCli(port, 'shutdown', 'nosave');
    await load(5);
    startRedis(port, dir);
    await waitFor(() => redisCli(port, 'ping') === 'PONG', 5000, 'redis back');
    await load(5);
    // 3. FLUSHALL mid-load
    redisCli(port, 'flushall');
    await load(10);
    await waitFor(async () => (await pending()) === 0, 60_000, 'the outbox to drain');
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));

    // nothing lost, nothing twice: volume counts every tap once; counts and volume equal a recompute
    const { rows } = await sql<{ taps: number; judged: number; vol: number }>`
      SELECT (SELECT count(*)::int FROM taps) AS taps, (SELECT count(*)::int FROM tap_boardings) AS judged,
             (SELECT coalesce(sum(taps), 0)::int FROM volume_daily) AS vol`.execute(t.db);
    expect(rows[0]!.judged).toBe(rows[0]!.taps);
    expect(rows[0]!.vol).toBe(rows[0]!.taps);
    const check = await recomputePeriod(t.db, '2023', { check: true });
    expect(check.differences).toEqual([]);
    const { rows: counted } = await sql<{
      n: number;
    }>`SELECT coalesce(sum(rides), 0)::int AS n FROM person_period_counts WHERE period = '2023'`.execute(
      t.db,
    );
    expect(counted[0]!.n).toBeGreaterThan(0);
  }, 120_000);
});
