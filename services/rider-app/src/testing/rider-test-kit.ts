/** Starts the rider app on a random port against a test database, with a controllable clock and captured logs. */
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { Server } from 'node:http';
import type { Database } from '@ridetally/db';
import type { RateLimiter } from '@ridetally/http';
import type { Keyring } from '@ridetally/keyring';
import { createApiClient } from '@ridetally/registry';
import { createLogger } from '@ridetally/telemetry';
import { createRiderApp } from '../app';

/** The union of the API's response fields the tests read. */
export interface ApiBody {
  error?: { code: string; message: string; details?: unknown };
  personId?: string;
  bindingId?: number;
  validFrom?: string;
  validTo?: string | null;
  rides?: { tapIds: number[]; tappedAt: string; routeId: string; vehicleId: string; rated: boolean; rateBy: string }[];
  ratingId?: number;
  rideFirstTapId?: number;
  rideTappedAt?: string;
  lateForward?: boolean;
  openapi?: string;
  paths?: Record<string, Record<string, unknown>>;
}

export interface RiderHarness {
  base: string;
  token: string;
  logs: string[];
  call(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: ApiBody }>;
  close(): Promise<void>;
}

export async function startRiderApp(
  db: Database,
  keyring: Keyring,
  now: () => Date,
  /** A per-client limiter (default none); an existing client token (default: a new client). */
  options: { rateLimiter?: RateLimiter; token?: string } = {},
): Promise<RiderHarness> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', service: 'rider-app-test', destination: sink });
  const app = createRiderApp({ db, keyring, logger, now, rateLimiter: options.rateLimiter });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const token = options.token ?? (await createApiClient({ db, keyring }, 'test app backend')).token;
  return {
    base,
    token,
    logs,
    async call(method, path, body, tok = token) {
      const headers: Record<string, string> = {};
      if (tok) headers.authorization = `Bearer ${tok}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : {}) as ApiBody };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
