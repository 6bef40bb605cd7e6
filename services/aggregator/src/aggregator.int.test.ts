/**
 * The aggregator end to end: BullMQ mode on the shared Redis (unique prefix) with the shared
 * PostgreSQL, and the embedded in-process mode on PGlite. Facts are written with their outbox
 * entries as the services write them; counts, volume and /metrics follow.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { findPeriodCounts, migrateToLatest, openDatabase, sql, type Database } from '@ridetally/db';
import { createTestDatabase, TEST_REDIS_URL, uniqueTestPrefix } from '@ridetally/db/testing';
import { createLogger } from '@ridetally/telemetry';
import { startAggregator } from './aggregator';
import {
  insertBinding,
  insertEmployer,
  insertEmployment,
  insertPerson,
  insertRating,
  insertRoute,
  insertTapBatch,
} from './testing/fixtures';

const logger = createLogger({ service: 'aggregator-test', level: 'silent' });

async function scenario(db: Database): Promise<{ personId: string }> {
  await insertEmployer(db, 'E1', 'institution', true);
  await insertRoute(db, 'R1', true);
  const personId = await insertPerson(db);
  await insertEmployment(db, personId, 'E1', '2022-04-01', null);
  await insertBinding(db, {
    personId,
    mediaType: 'transit_card',
    mediaKey: '3101000012345678',
    from: '2022-04-01T00:00:00+08:00',
    to: null,
  });
  // a ride with a double tap (one ride, one boarding), then a transfer (a second ride)
  const { tapIds } = await insertTapBatch(db, [
    {
      at: '2022-05-09T07:41:02+08:00',
      vehicleId: 'V1',
      routeId: 'R1',
      mediaType: 'transit_card',
      mediaKey: '3101000012345678',
    },
    {
      at: '2022-05-09T07:41:30+08:00',
      vehicleId: 'V1',
      routeId: 'R1',
      mediaType: 'transit_card',
      mediaKey: '3101000012345678',
    },
    {
      at: '2022-05-09T07:58:00+08:00',
      vehicleId: 'V2',
      routeId: 'R1',
      mediaType: 'transit_card',
      mediaKey: '3101000012345678',
    },
  ]);
  await insertRating(db, {
    personId,
    tapId: tapIds[1]!,
    tapAt: '2022-05-09T07:41:30+08:00',
    ratedAt: '2022-05-10T09:00:00+08:00',
  });
  await insertRating(db, {
    personId,
    tapId: tapIds[2]!,
    tapAt: '2022-05-09T07:58:00+08:00',
    ratedAt: '2022-05-20T09:00:00+08:00',
  });
  return { personId };
}

async function expectCounted(db: Database, personId: string): Promise<void> {
  expect(await findPeriodCounts(db, '2022-Q2', 1)).toMatchObject([{ personId, rides: 1 }]);
  expect(await findPeriodCounts(db, '2022', 1)).toMatchObject([{ personId, rides: 1 }]);
  const { rows } = await sql<{
    boardings: number;
    taps: number;
  }>`SELECT boardings, taps FROM volume_daily WHERE service_date = '2022-05-09'`.execute(db);
  expect(rows).toEqual([{ boardings: 2, taps: 3 }]);
}

describe('aggregator', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('counts through the outbox, BullMQ and a worker, and serves /metrics', async () => {
    const t = await createTestDatabase();
    cleanups.push(() => t.drop());
    const prefix = uniqueTestPrefix('agg');
    const aggregator = await startAggregator({
      db: t.db,
      mode: { redisUrl: TEST_REDIS_URL, prefix },
      logger,
      pollMs: 20,
      metricsPort: 0,
    });
    cleanups.push(async () => {
      const redis = new Redis(TEST_REDIS_URL);
      await new Queue('aggregate', { connection: redis, prefix }).obliterate({ force: true });
      redis.disconnect();
    });
    try {
      const { personId } = await scenario(t.db);
      await aggregator.waitUntilIdle(20_000);
      await expectCounted(t.db, personId);
      const address = aggregator.metricsServer!.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(body).toMatch(/ridetally_aggregate_lag_seconds_count\{[^}]*\} [1-9]/);
      expect(body).toMatch(/ridetally_outbox_pending\{[^}]*\} 0/);
      expect(body).toContain('ridetally_aggregate_queue_depth');
      expect(body).not.toContain('3101000012345678');
    } finally {
      await aggregator.close();
    }
  });

  it('runs the same processors in process on PGlite (embedded mode)', async () => {
    const handle = await openDatabase({});
    cleanups.push(() => handle.close());
    await migrateToLatest(handle.db);
    const aggregator = await startAggregator({ db: handle.db, mode: 'in-process', logger, pollMs: 10 });
    try {
      const { personId } = await scenario(handle.db);
      await aggregator.waitUntilIdle(20_000);
      await expectCounted(handle.db, personId);
    } finally {
      await aggregator.close();
    }
  }, 150_000); // PGlite (WASM) builds the whole schema, ~70 tap partitions, first
});
