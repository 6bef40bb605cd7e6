/**
 * Every path and method of the rider app's and the staff API's OpenAPI documents, fuzzed: bodies
 * derived from the operation's request schema with one field replaced by a hostile value, or hostile
 * JSON, or no JSON at all; hostile path and query parameters; wrong content types; no credentials,
 * a bogus one, or a valid one (a client token; a staff session holding every role). Each answer: no
 * 5xx, the JSON error shape, and a refused request changed no table (fuzz-harness.ts).
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSegment, FUZZ_RUNS, fuzzParams, sendChecked, startFuzzPlatform, type FuzzPlatform } from './fuzz-harness';
import { boundaryNumber, contentType, hostileJson, oddString, rawBody } from './fuzz-values';

type Schema = Record<string, unknown>;
interface Operation {
  doc: 'rider' | 'staff';
  method: string;
  path: string;
  operationId: string;
  params: { in: string; name: string; schema?: Schema }[];
  bodySchema?: Schema;
  secured: boolean;
}

let p: FuzzPlatform;
const operations: Operation[] = [];
const components: Record<string, Record<string, Schema>> = {};

function resolve(s: Schema | undefined, docComponents: Record<string, Schema>): Schema | undefined {
  if (!s) return undefined;
  const ref = s.$ref;
  if (typeof ref === 'string') return resolve(docComponents[ref.split('/').pop() ?? ''], docComponents);
  return s;
}

/** A plausible value for a schema (the base a single hostile mutation is applied to). */
function sample(s0: Schema | undefined, comps: Record<string, Schema>, depth = 0): unknown {
  const s = resolve(s0, comps);
  if (!s || depth > 6) return null;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  if ('const' in s) return s.const;
  for (const k of ['anyOf', 'oneOf', 'allOf'] as const) {
    const alts = s[k];
    if (Array.isArray(alts) && alts.length) {
      const firstNonNull = (alts as Schema[]).find((a) => a.type !== 'null') ?? (alts[0] as Schema);
      return sample(firstNonNull, comps, depth + 1);
    }
  }
  const type = (Array.isArray(s.type) ? (s.type as string[]).find((t) => t !== 'null') : (s.type as string | undefined)) ?? 'string';
  switch (type) {
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, Schema>;
      return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, sample(v, comps, depth + 1)]));
    }
    case 'array':
      return [sample(s.items as Schema, comps, depth + 1)];
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 1;
    case 'boolean':
      return true;
    case 'string': {
      const f = s.format;
      if (f === 'date') return '2022-05-09';
      if (f === 'date-time') return '2022-05-09T07:41:02+08:00';
      if (f === 'uuid') return randomUUID();
      if (typeof s.pattern === 'string' && s.pattern.includes('\\d{17}')) return '110101199003071234';
      return typeof s.minLength === 'number' ? 'a'.repeat(Math.max(1, s.minLength)) : 'abc';
    }
    default:
      return 'abc';
  }
}

const hostileValue = fc.oneof(hostileJson, oddString, boundaryNumber, fc.constantFrom(undefined, null, [], {}, [[[[[]]]]]));

/** Replaces, deletes or adds one field somewhere in a sampled body. */
function mutate(base: unknown, pick: number, value: unknown, op: 'replace' | 'delete' | 'add'): unknown {
  if (typeof base !== 'object' || base === null) return value;
  const copy = structuredClone(base) as Record<string, unknown>;
  const keys = Object.keys(copy);
  if (!keys.length || op === 'add') {
    copy[`extra${pick}`] = value;
    return copy;
  }
  const key = keys[pick % keys.length]!;
  if (op === 'delete') delete copy[key];
  else if (typeof copy[key] === 'object' && copy[key] !== null && pick % 3 === 0) copy[key] = mutate(copy[key], pick >> 2, value, 'replace');
  else copy[key] = value;
  return copy;
}

beforeAll(async () => {
  p = await startFuzzPlatform();
  for (const [doc, path] of [
    ['rider', '/v1/openapi.json'],
    ['staff', '/api/openapi.json'],
  ] as const) {
    const d = (await (await fetch(p.url + path)).json()) as {
      paths: Record<string, Record<string, { operationId?: string; parameters?: Operation['params']; requestBody?: { content?: Record<string, { schema?: Schema }> }; security?: unknown[] }>>;
      components?: { schemas?: Record<string, Schema> };
      security?: unknown[];
    };
    components[doc] = d.components?.schemas ?? {};
    for (const [route, methods] of Object.entries(d.paths)) {
      for (const [method, o] of Object.entries(methods)) {
        operations.push({
          doc,
          method: method.toUpperCase(),
          path: route,
          operationId: o.operationId ?? `${method} ${route}`,
          params: o.parameters ?? [],
          bodySchema: o.requestBody?.content?.['application/json']?.schema,
          secured: (o.security ?? d.security ?? []).length > 0,
        });
      }
    }
  }
}, 120_000);

afterAll(async () => {
  await p?.close();
  // The numbers for docs/reliability.md (printed, not asserted).
  console.log(`[fuzz openapi] operations=${operations.length} requests=${p?.tally.requests} refusedChecked=${p?.tally.refusedChecked} byStatus=${JSON.stringify(p?.tally.byStatus)}`);
});

describe('OpenAPI-driven fuzz of the rider app and staff APIs', () => {
  it('found both documents with every expected surface', () => {
    expect(operations.filter((o) => o.doc === 'rider').length).toBeGreaterThanOrEqual(5);
    expect(operations.filter((o) => o.doc === 'staff').length).toBeGreaterThanOrEqual(30);
    expect(operations.some((o) => o.path === '/v1/rides/{tapId}/rating')).toBe(true);
  });

  it('every operation: no 5xx, JSON errors, nothing written by a refused request', async () => {
    for (const op of operations) {
      const comps = components[op.doc] ?? {};
      // A failed login is audited and counted towards lock-out (SPEC §5: every action audited): the two
      // tables a refused login may change; every other refused request must change nothing.
      const allowedOnRefusal = op.operationId === 'login' ? ['audit_log', 'staff_users'] : [];
      const credential = fc.constantFrom<'none' | 'bogus' | 'valid'>('none', 'bogus', 'valid', 'valid', 'valid');
      const param = fc.oneof(oddString.map(encodeSegment), fc.constantFrom('%', '%ZZ', '%00', '%D8%00', '%ED%A0%80', '..%2F..', '0', '-1', '9007199254740993', '2022', randomUUID(), '1'));
      const bodyKind = fc.constantFrom<'mutated' | 'hostile' | 'raw' | 'none'>('mutated', 'mutated', 'hostile', 'raw', 'none');
      await fc.assert(
        fc.asyncProperty(
          credential,
          fc.array(param, { minLength: 4, maxLength: 4 }),
          fc.array(fc.option(param, { nil: undefined }), { minLength: 4, maxLength: 4 }),
          bodyKind,
          fc.nat(),
          hostileValue,
          fc.constantFrom<'replace' | 'delete' | 'add'>('replace', 'replace', 'delete', 'add'),
          rawBody,
          contentType,
          async (cred, pathValues, queryValues, kind, pick, value, mutation, raw, ctype) => {
            // logout with the shared staff session would end it; logout is fuzzed without it
            const useCred = op.operationId === 'logout' && cred === 'valid' ? 'bogus' : cred;
            let i = 0;
            const path = op.path.replace(/\{[^}]+\}/g, () => pathValues[i++ % pathValues.length]!);
            const query = op.params
              .filter((q) => q.in === 'query')
              .map((q, j) => (queryValues[j % 4] === undefined ? '' : `${encodeSegment(q.name)}=${queryValues[j % 4]}`))
              .filter(Boolean);
            const headers: Record<string, string> = {};
            if (useCred !== 'none') {
              const token = op.doc === 'rider' ? p.clientToken : p.staffToken;
              headers.authorization = useCred === 'valid' ? `Bearer ${token}` : `Bearer ${token.slice(0, -2)}xx`;
            }
            let body: string | Buffer | undefined;
            if (op.method !== 'GET' && op.method !== 'HEAD') {
              if (kind === 'mutated') body = JSON.stringify(mutate(sample(op.bodySchema, comps), pick, value, mutation)) ?? 'null';
              else if (kind === 'hostile') body = JSON.stringify(value) ?? 'null';
              else if (kind === 'raw') body = raw;
              if (body !== undefined) headers['content-type'] = kind === 'raw' ? (ctype ?? 'application/json') : 'application/json';
            }
            await sendChecked(p, { method: op.method, path: path + (query.length ? `?${query.join('&')}` : ''), headers, body }, { allowedOnRefusal });
          },
        ),
        fuzzParams(),
      );
    }
    expect(p.tally.requests).toBeGreaterThanOrEqual(operations.length * FUZZ_RUNS);
  }, 1_800_000);

  it('oversized bodies (64 KiB ± 1 and 1 MiB + 1) on every operation with a body: 413 or 4xx, never 5xx', async () => {
    for (const op of operations.filter((o) => o.method !== 'GET')) {
      for (const size of [64 * 1024 - 1, 64 * 1024 + 1, 1024 * 1024 + 1]) {
        const body = JSON.stringify({ x: 'a'.repeat(size - 8) });
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (op.operationId !== 'logout') headers.authorization = `Bearer ${op.doc === 'rider' ? p.clientToken : p.staffToken}`;
        const path = op.path.replace(/\{[^}]+\}/g, '1');
        const s = await sendChecked(p, { method: op.method, path, headers, body });
        if (size > 64 * 1024 && op.bodySchema) expect([400, 401, 403, 404, 413]).toContain(s.status);
      }
    }
  }, 600_000);
});
