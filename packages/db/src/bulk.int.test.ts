/**
 * The COPY reader of `withBulkTransaction` against a real PostgreSQL: rows split across socket chunks,
 * escapes, NULLs and non-ASCII text read back exactly; an error from the server, or from the row
 * callback, part-way through a stream rejects and leaves the connection in step.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Kysely } from 'kysely';
import { stringCache, withBulkTransaction } from './bulk';
import { openDatabase } from './client';
import type { DB } from './types';
import { createTestDatabase, type TestDatabase } from './testing/index';

/** What row g of the query below holds, built the same way in JS. */
function expected(g: number): { text: string | null; ints: number[] } {
  const ints = g % 3 === 0 ? [] : [g, -g, 2 ** 40 + g];
  if (g % 97 === 0) return { text: null, ints };
  let text = `k${g}`;
  if (g % 5 === 0) text += '\tab\nnl\\bs';
  if (g % 7 === 0) text += '路线中文';
  if (g % 20_011 === 0) text += 'x'.repeat(150_000); // one row longer than any socket chunk
  return { text, ints };
}

const QUERY = `
  SELECT g,
         CASE WHEN g % 97 = 0 THEN NULL ELSE 'k' || g
           || CASE WHEN g % 5 = 0 THEN E'\\tab\\nnl\\\\bs' ELSE '' END
           || CASE WHEN g % 7 = 0 THEN '路线中文' ELSE '' END
           || CASE WHEN g % 20011 = 0 THEN repeat('x', 150000) ELSE '' END END AS t,
         CASE WHEN g % 3 = 0 THEN '' ELSE g || ',' || -g || ',' || (2::int8 ^ 40)::int8 + g END AS l
  FROM generate_series(1, 120000) g ORDER BY g`;

describe('withBulkTransaction rows (COPY reader)', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(2);
  });
  afterAll(() => t.drop());

  it('reads every row exactly, in order, across socket chunks, escapes, NULLs and UTF-8', async () => {
    let n = 0;
    const wrong: string[] = [];
    await withBulkTransaction(t.db, async (s) => {
      await s.rows(QUERY, (r) => {
        n++;
        const g = r.int(0);
        const want = expected(g);
        if (g !== n) wrong.push(`row ${n}: g=${g}`);
        if (r.str(1) !== want.text) wrong.push(`row ${g}: text ${JSON.stringify(r.str(1)?.slice(0, 40))}`);
        if (r.isNull(1) !== (want.text === null)) wrong.push(`row ${g}: isNull`);
        if (want.text !== null && !r.eq(1, want.text)) wrong.push(`row ${g}: eq`);
        if (want.text !== null && r.eq(1, want.text + 'z')) wrong.push(`row ${g}: eq longer`);
        if (JSON.stringify(r.ints(2)) !== JSON.stringify(want.ints))
          wrong.push(`row ${g}: ints ${JSON.stringify(r.ints(2))}`);
        if (!r.intsEq(2, want.ints)) wrong.push(`row ${g}: intsEq`);
        if (r.intsEq(2, [...want.ints, 1])) wrong.push(`row ${g}: intsEq longer`);
      });
      // The connection is in step: an ordinary statement in the same transaction answers.
      const { rows } = await sql<{ one: number }>`SELECT 1 AS one`.execute(s.db);
      expect(rows[0]!.one).toBe(1);
    });
    expect(wrong.slice(0, 10)).toEqual([]);
    expect(n).toBe(120_000);
  });

  it('reads a column through the string cache (shared) and compares column spans (span, spanEq), on COPY and on PGlite', async () => {
    // A key of two columns and a column of few values, in runs; values with escapes, UTF-8, lengths
    // around V8's 13-character slices; the same texts split differently between the two columns.
    const query = `
      SELECT g,
             (ARRAY['a', 'ab', E'x\\ty', '路线', 'abcdefghijklmnop'])[1 + (g / 7) % 5] AS k1,
             (ARRAY['b', '', E'\\n', 'cd'])[1 + (g / 11) % 4] AS k2,
             (ARRAY['R1', 'R22', E'R\\t3', '线路七', 'route-with-a-long-name'])[1 + g % 5] AS v
      FROM generate_series(1, 60000) g ORDER BY g`;
    const want = (g: number) => ({
      k1: ['a', 'ab', 'x\ty', '路线', 'abcdefghijklmnop'][Math.floor(g / 7) % 5]!,
      k2: ['b', '', '\n', 'cd'][Math.floor(g / 11) % 4]!,
      v: ['R1', 'R22', 'R\t3', '线路七', 'route-with-a-long-name'][g % 5]!,
    });
    const check = async (db: Kysely<DB>, bulk: typeof withBulkTransaction) => {
      const wrong: string[] = [];
      const made = new Map<string, Set<string>>();
      const cache = stringCache(4);
      let span = '';
      let prev = { k1: '', k2: '' };
      let changes = 0;
      await bulk(db as never, (s) =>
        s.rows(query, (r) => {
          const g = r.int(0);
          const w = want(g);
          const v = r.shared(3, cache);
          if (v !== w.v) wrong.push(`row ${g}: shared ${v}`);
          if (!made.has(v)) made.set(v, new Set());
          const same = r.spanEq(1, 2, span);
          if (same !== (w.k1 === prev.k1 && w.k2 === prev.k2)) wrong.push(`row ${g}: spanEq ${same}`);
          if (!same) {
            span = r.span(1, 2);
            changes++;
          }
          prev = w;
        }),
      );
      return { wrong, values: [...made.keys()].sort(), changes };
    };
    // The expected number of key changes, counted the plain way.
    let expectedChanges = 0;
    for (let g = 1, p = ''; g <= 60_000; g++) {
      const w = want(g);
      const k = JSON.stringify([w.k1, w.k2]);
      if (k !== p) expectedChanges++;
      p = k;
    }
    const lite = await openDatabase({});
    try {
      for (const [db, bulk] of [
        [t.db, withBulkTransaction],
        [lite.db, withBulkTransaction],
      ] as const) {
        const r = await check(db, bulk);
        expect(r.wrong.slice(0, 10)).toEqual([]);
        expect(r.values).toEqual(['R1', 'R22', 'R\t3', 'route-with-a-long-name', '线路七'].sort());
        expect(r.changes).toBe(expectedChanges);
      }
    } finally {
      await lite.close();
    }
  });

  it('rejects with the server error raised part-way through, and the pool goes on', async () => {
    let seen = 0;
    await expect(
      withBulkTransaction(t.db, (s) =>
        s.rows(`SELECT 1 / (g - 60000) AS x FROM generate_series(1, 100000) g`, () => {
          seen++;
        }),
      ),
    ).rejects.toThrow(/division by zero/);
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(60_000);
    const { rows } = await sql<{ n: number }>`SELECT 2 AS n`.execute(t.db);
    expect(rows[0]!.n).toBe(2);
  });

  it('stops at an exception of the row callback, rejects with it, and the transaction goes on', async () => {
    let calls = 0;
    let after = 0;
    await withBulkTransaction(t.db, async (s) => {
      await expect(
        s.rows(`SELECT g FROM generate_series(1, 50000) g`, (r) => {
          calls++;
          if (r.int(0) === 1234) throw new Error('stop at 1234');
        }),
      ).rejects.toThrow('stop at 1234');
      const { rows } = await sql<{
        n: number;
      }>`SELECT count(*)::int AS n FROM generate_series(1, 10)`.execute(s.db);
      after = rows[0]!.n;
    });
    expect(calls).toBe(1234);
    expect(after).toBe(10);
  });
});
