import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest, openDatabase, sql, type DatabaseHandle } from '@ridetally/db';
import { createMetricsRegistry } from '@ridetally/telemetry';
import { createIngestApp, type IngestApp } from './app';
import { addTestDevice, createCapturingLogger, createTestKeyring, listen, makeNationalId, makeTap, postTaps } from './testing/ingest-test-kit';

// The embedded mode: the same app and group commit over PGlite's single connection.
const keyring = createTestKeyring();
let handle: DatabaseHandle;
let ingest: IngestApp;
let url: string;
let stop: () => Promise<void>;

beforeAll(async () => {
  handle = await openDatabase({});
  await migrateToLatest(handle.db);
  ingest = createIngestApp({ db: handle.db, keyring, logger: createCapturingLogger('fatal').logger, registry: createMetricsRegistry('t', false), config: { maxInFlight: 1 } });
  ({ url, close: stop } = await listen(ingest.app));
});

afterAll(async () => {
  await stop();
  await ingest.close();
  await handle.close();
});

describe('tap ingest on an in-memory PGlite', () => {
  it('stores, deduplicates, detects seq conflicts and quarantines, concurrent requests included', async () => {
    const secret = await addTestDevice(handle.db, keyring, 'D1');
    const body = JSON.stringify({ taps: [makeTap(1), makeTap(2, { media: { type: 'id_card', id: makeNationalId() } }), makeTap(3, { extra: true })] });
    const post = (b: string) => postTaps(url, { deviceId: 'D1', secret, body: b });
    const first = await post(body);
    expect(first.json).toMatchObject({ accepted: 2, duplicates: 0, rejected: [{ seq: 3, code: 'unknown_field' }] });
    const concurrent = await Promise.all([post(body), post(body), post(JSON.stringify({ taps: [makeTap(1, { routeId: 'R7' }), makeTap(4)] }))]);
    expect(concurrent.map((r) => r.json.duplicates)).toEqual([2, 2, 0]);
    expect(concurrent[2].json).toMatchObject({ accepted: 1, rejected: [{ seq: 1, code: 'seq_conflict' }] });
    const counts = (await sql<{ taps: number; q: number; outbox: number }>`
      SELECT (SELECT count(*)::int FROM taps) AS taps, (SELECT count(*)::int FROM quarantined_taps) AS q, (SELECT count(*)::int FROM outbox) AS outbox`.execute(handle.db)).rows[0];
    // A bad tap is quarantined once however often it is sent (its three receipts are one row) + 1 seq_conflict.
    expect(counts).toEqual({ taps: 3, q: 2, outbox: 2 });
  });
});
