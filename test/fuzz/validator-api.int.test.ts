/**
 * The validator API (`POST /v1/taps`, SPEC §3) fuzzed: hostile headers without a valid signature, and
 * — the interesting case — a valid signature over a malformed, hostile or boundary body. Each answer:
 * no 5xx, the JSON error shape, a refused request (4xx) changed no table; an accepted batch (200)
 * wrote exactly its accepted taps and one quarantine row per rejected tap, nothing else of the batch.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../packages/db/src/index';
import { signTapRequest } from '../../services/tap-ingest/src/signature';
import { makeTap } from '../../services/tap-ingest/src/testing/ingest-test-kit';
import { DEVICE_ID, fuzzParams, sendChecked, startFuzzPlatform, type FuzzPlatform, type Sent } from './fuzz-harness';
import { boundaryNumber, contentType, headerValue, hostileJson, oddString, rawBody } from './fuzz-values';

let p: FuzzPlatform;
let seq = 1;

beforeAll(async () => {
  p = await startFuzzPlatform();
}, 120_000);
afterAll(async () => {
  await p?.close();
  console.log(`[fuzz validator] requests=${p?.tally.requests} refusedChecked=${p?.tally.refusedChecked} byStatus=${JSON.stringify(p?.tally.byStatus)}`);
});

async function counts(): Promise<{ taps: number; quarantined: number }> {
  const r = await sql<{ taps: string; q: string }>`select (select count(*) from taps) as taps, (select count(*) from quarantined_taps) as q`.execute(p.db.db);
  return { taps: Number(r.rows[0]!.taps), quarantined: Number(r.rows[0]!.q) };
}

/** A validly signed request for the fuzz device; the answer checked, and a 200's writes counted exactly. */
async function signed(body: string | Buffer, ctype: string | undefined = 'application/json'): Promise<Sent> {
  const ts = String(Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = { 'x-device-id': DEVICE_ID, 'x-timestamp': ts, 'x-signature': signTapRequest(p.deviceSecret, ts, body) };
  if (ctype) headers['content-type'] = ctype;
  const before = await counts();
  const s = await sendChecked(p, { method: 'POST', path: '/v1/taps', headers, body });
  if (s.status === 200) {
    const r = s.json as { accepted: number; duplicates: number; rejected: { seq: unknown; code: string }[] };
    const after = await counts();
    // Nothing partial: exactly the accepted taps were stored and each rejected tap was quarantined.
    expect({ taps: after.taps - before.taps, quarantined: after.quarantined - before.quarantined }).toEqual({ taps: r.accepted, quarantined: r.rejected.length });
  } else {
    expect([400, 413]).toContain(s.status);
  }
  return s;
}

const tapField = fc.constantFrom('seq', 'tappedAt', 'vehicleId', 'routeId', 'stopId', 'media', 'media.type', 'media.id', 'media.cardKind', 'media.issuer');
const hostile = fc.oneof(hostileJson, oddString, boundaryNumber, fc.constantFrom(undefined, null, [], {}, 2 ** 53, -1, 0, '2022-05-09T07:41:02', '2099-01-01T00:00:00Z', '1900-01-01T00:00:00Z'));

/** A batch of plausible taps, some with one field replaced by a hostile value or removed. */
const mutatedBatch = fc.array(fc.tuple(fc.boolean(), tapField, hostile, fc.boolean()), { minLength: 0, maxLength: 12 }).map((muts) => ({
  taps: muts.map(([mutate, field, value, remove]) => {
    const tap = makeTap(seq++) as Record<string, unknown>;
    if (!mutate) return tap;
    const [a, b] = field.split('.') as [string, string | undefined];
    const target = b ? (tap[a] as Record<string, unknown>) : tap;
    const key = b ?? a;
    if (remove) delete target[key];
    else target[key] = value;
    return tap;
  }),
}));

describe('POST /v1/taps fuzz', () => {
  it('without a valid signature: 401 (or 413) whatever the headers and body, nothing written', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ device: fc.option(fc.oneof(headerValue, fc.constant(DEVICE_ID)), { nil: undefined }), ts: fc.option(fc.oneof(headerValue, fc.constant(String(Math.floor(Date.now() / 1000)))), { nil: undefined }), sig: fc.option(headerValue, { nil: undefined }) }),
        fc.oneof(rawBody, hostileJson.map((v) => JSON.stringify(v) ?? ''), mutatedBatch.map((b) => JSON.stringify(b))),
        contentType,
        async (h, body, ctype) => {
          const headers: Record<string, string> = {};
          if (h.device !== undefined) headers['x-device-id'] = h.device;
          if (h.ts !== undefined) headers['x-timestamp'] = h.ts;
          if (h.sig !== undefined) headers['x-signature'] = h.sig;
          if (ctype) headers['content-type'] = ctype;
          const s = await sendChecked(p, { method: 'POST', path: '/v1/taps', headers, body });
          expect([401, 413, 431]).toContain(s.status);
          if (s.status === 401) expect(Date.parse((s.json as { serverTime: string }).serverTime)).toBeGreaterThan(0);
        },
      ),
      fuzzParams(),
    );
  }, 1_800_000);

  it('validly signed malformed bodies: 400/413, nothing written', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(rawBody, hostileJson.map((v) => JSON.stringify(v) ?? ''), hostileJson.map((v) => JSON.stringify({ taps: v }))), contentType, async (body, ctype) => {
        await signed(body, ctype);
      }),
      fuzzParams(),
    );
  }, 1_800_000);

  it('validly signed batches with hostile taps: 200 with each bad tap rejected and quarantined, or 400; never partial', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedBatch, async (batch) => {
        await signed(JSON.stringify(batch));
      }),
      fuzzParams(),
    );
  }, 1_800_000);

  it('boundaries: 0, 500 and 501 taps; 1 MiB − 1, 1 MiB and 1 MiB + 1 bytes; a replay of the same body', async () => {
    expect((await signed('{"taps":[]}')).status).toBe(200);
    const five = JSON.stringify({ taps: Array.from({ length: 500 }, () => makeTap(seq++)) });
    const ok = await signed(five);
    expect(ok.status).toBe(200);
    const again = await signed(five);
    expect(again.json).toMatchObject({ accepted: 0, duplicates: (ok.json as { accepted: number }).accepted });
    expect((await signed(JSON.stringify({ taps: Array.from({ length: 501 }, () => makeTap(seq++)) }))).status).toBe(413);
    const MiB = 1024 * 1024;
    for (const size of [MiB - 1, MiB, MiB + 1]) {
      const head = `{"taps":[${JSON.stringify(makeTap(seq++))}],"pad":"`;
      const body = head + 'x'.repeat(size - head.length - 2) + '"}';
      expect(Buffer.byteLength(body)).toBe(size);
      const s = await signed(body);
      if (size > MiB) expect(s.status).toBe(413);
      else expect([200, 400]).toContain(s.status);
    }
  }, 300_000);
});

