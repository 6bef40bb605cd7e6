/** Helpers for the ingest tests and the benchmark: devices, valid ID numbers, signed requests. */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import { insertDevice, type Database } from '@ridetally/db';
import { nationalIdCheckChar } from '@ridetally/domain';
import { createKeyring, type Keyring } from '@ridetally/keyring';
import { createLogger, type Logger } from '@ridetally/telemetry';
import type { Express } from 'express';
import { randomBytes } from 'node:crypto';
import { generateDeviceSecret } from '../device-secret';
import { signTapRequest } from '../signature';

export function createTestKeyring(): Keyring {
  return createKeyring({ current: randomBytes(32) });
}

/** A valid national ID number (GB 11643 check character) from a 17-digit seed. */
export function makeNationalId(first17 = '11010119900307123'): string {
  return first17 + nationalIdCheckChar(first17);
}

export async function addTestDevice(db: Database, keyring: Keyring, deviceId: string, vehicleId: string | null = 'V0123'): Promise<string> {
  const secret = generateDeviceSecret();
  await insertDevice(db, { deviceId, vehicleId, secretCiphertext: keyring.encrypt('device-secret', secret) });
  return secret;
}

export interface TapInput {
  seq: number;
  tappedAt?: string;
  vehicleId?: string;
  routeId?: string;
  stopId?: string;
  media?: Record<string, unknown>;
  [extra: string]: unknown;
}

export function makeTap(seq: number, overrides: Partial<TapInput> = {}): TapInput {
  return {
    seq,
    tappedAt: '2022-05-09T07:41:02+08:00',
    vehicleId: 'V0123',
    routeId: 'R1',
    stopId: 'S12',
    media: { type: 'transit_card', id: `31010000${String(seq).padStart(8, '0')}`, cardKind: 'normal' },
    ...overrides,
  };
}

export interface SignedPost {
  deviceId: string;
  secret: string;
  body: string | Buffer;
  timestampS?: number;
  signature?: string;
}

export function signedHeaders({ deviceId, secret, body, timestampS, signature }: SignedPost): Record<string, string> {
  const ts = String(timestampS ?? Math.floor(Date.now() / 1000));
  return {
    'content-type': 'application/json',
    'x-device-id': deviceId,
    'x-timestamp': ts,
    'x-signature': signature ?? signTapRequest(secret, ts, body),
  };
}

export interface PostResult {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

export async function postTaps(baseUrl: string, post: SignedPost): Promise<PostResult> {
  const res = await fetch(`${baseUrl}/v1/taps`, { method: 'POST', headers: signedHeaders(post), body: post.body });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, headers: res.headers, json };
}

export async function listen(app: Express): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A logger whose lines are kept in memory (to check that no secret or ID number is logged). */
export function createCapturingLogger(level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { logger: createLogger({ level, service: 'tap-ingest-test', destination }), lines };
}
