import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { generateMasterKey, keyringFromEnv } from '@ridetally/keyring';
import { addTestDevice, makeNationalId, makeTap, signedHeaders } from './testing/ingest-test-kit';
import { startServiceProcess, type ServiceProcess } from './testing/service-process';

const masterKey = generateMasterKey();
const keyring = keyringFromEnv(masterKey);
let db: TestDatabase;
let service: ServiceProcess | undefined;
const env = () => ({ DATABASE_URL: db.url, RIDETALLY_MASTER_KEY: masterKey, INGEST_DEVICE_RATE_PER_S: '0' });

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await service?.stop('SIGKILL');
  await db.drop();
});

/** POSTs and SIGKILLs the service the moment the 200's headers arrive; returns the status and body. */
function postAndKillOnAnswer(url: string, headers: Record<string, string>, body: string, kill: () => void): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/taps`, { method: 'POST', headers }, (res) => {
      if (res.statusCode === 200) kill();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('durability', () => {
  it('loses none of a batch answered 200 when the process is SIGKILLed right after answering', async () => {
    const secret = await addTestDevice(db.db, keyring, 'D-CRASH');
    const taps = Array.from({ length: 300 }, (_, i) => (i % 10 === 0 ? makeTap(i, { media: { type: 'id_card', id: makeNationalId(`1101011990030${String(1000 + i).slice(-4)}`) } }) : makeTap(i)));
    const body = JSON.stringify({ taps });

    service = await startServiceProcess(env());
    const first = service;
    const answer = await postAndKillOnAnswer(first.url, signedHeaders({ deviceId: 'D-CRASH', secret, body }), body, () => first.child.kill('SIGKILL'));
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ accepted: 300, duplicates: 0 });
    await first.stop('SIGKILL');
    expect(first.child.signalCode).toBe('SIGKILL');

    service = await startServiceProcess(env());
    const res = await fetch(`${service.url}/v1/taps`, { method: 'POST', headers: signedHeaders({ deviceId: 'D-CRASH', secret, body }), body });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 0, duplicates: 300, rejected: [] });
    const n = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM taps WHERE device_id = 'D-CRASH'`.execute(db.db)).rows[0]!.n;
    expect(n).toBe(300);

    // A clean stop (SIGTERM) closes everything and exits 0.
    await service.stop('SIGTERM');
    expect(service.child.exitCode).toBe(0);
    service = undefined;
  }, 90_000);
});
