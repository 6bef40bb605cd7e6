import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, sql, type DatabaseHandle } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { createMetricsRegistry } from '@ridetally/telemetry';
import { createIngestApp, type IngestApp } from './app';
import { addTestDevice, createCapturingLogger, createTestKeyring, listen, makeTap, postTaps } from './testing/ingest-test-kit';
import { startTcpProxy, type TcpProxy } from './testing/tcp-proxy';

const keyring = createTestKeyring();
let db: TestDatabase;
let proxy: TcpProxy;
let viaProxy: DatabaseHandle;
let ingest: IngestApp;
let url: string;
let stop: () => Promise<void>;

const countTaps = async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM taps`.execute(db.db)).rows[0]!.n;

beforeAll(async () => {
  db = await createTestDatabase();
  const target = new URL(db.url);
  proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  const proxied = new URL(db.url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(proxy.port);
  viaProxy = await openDatabase({ url: proxied.toString(), poolSize: 4 });
  ingest = createIngestApp({ db: viaProxy.db, keyring, logger: createCapturingLogger('fatal').logger, registry: createMetricsRegistry('t', false), config: { commitTimeoutMs: 1500 } });
  ({ url, close: stop } = await listen(ingest.app));
});

afterAll(async () => {
  await stop();
  await proxy.close();
  await ingest.close();
  await viaProxy.close();
  await db.drop();
});

describe('database outage', () => {
  it('answers 503 with Retry-After, never 200, while the database is unreachable, and recovers', async () => {
    const secret = await addTestDevice(db.db, keyring, 'D1');
    const other = await addTestDevice(db.db, keyring, 'D2');
    const send = (deviceId: string, s: string, seq: number) => postTaps(url, { deviceId, secret: s, body: JSON.stringify({ taps: [makeTap(seq), makeTap(seq + 1)] }) });
    expect((await send('D1', secret, 1)).status).toBe(200);
    expect(await countTaps()).toBe(2);

    await proxy.cut();
    // D1's secret is cached: the commit fails. D2 is not: the device lookup fails. Both 503, not 401.
    for (const [id, s] of [['D1', secret], ['D2', other]] as const) {
      const res = await send(id, s, 10);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('2');
      expect(res.json).toMatchObject({ error: { code: 'unavailable' } });
    }
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    expect(await countTaps()).toBe(2);

    await proxy.restore();
    const again = await send('D1', secret, 10);
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ accepted: 2 });
    expect(await countTaps()).toBe(4);
  });

  it('answers 503 when the database hangs (commit timeout); the retry stores the tap once', async () => {
    const secret = await addTestDevice(db.db, keyring, 'D3');
    const body = JSON.stringify({ taps: [makeTap(1), makeTap(2)] });
    const send = () => postTaps(url, { deviceId: 'D3', secret, body });
    expect((await send()).json).toMatchObject({ accepted: 2 }); // D3's secret is cached now
    const body2 = JSON.stringify({ taps: [makeTap(3)] });
    proxy.stall();
    const res = await postTaps(url, { deviceId: 'D3', secret, body: body2 });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    await proxy.restore();
    // The stalled statement never reached the database: the retry stores the tap once.
    const retry = await postTaps(url, { deviceId: 'D3', secret, body: body2 });
    expect(retry.status).toBe(200);
    expect((retry.json.accepted as number) + (retry.json.duplicates as number)).toBe(1);
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM taps WHERE device_id = 'D3'`.execute(db.db)).rows[0]!.n).toBe(3);
  });
});
