/**
 * `epochMsSql`, the recompute's float8 form of an instant's milliseconds, against the exact numeric
 * formula it replaced, on PostgreSQL and on PGlite: every µs around a millisecond and a second
 * boundary, and many random instants, from 1970 to 2106-02-07 (2^32 s,
 * where the float8 form stops being exact: the last test shows it does not go unnoticed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Kysely } from 'kysely';
import { openDatabase, type DatabaseHandle } from '../client';
import { createTestDatabase, type TestDatabase } from '../testing/index';
import type { DB } from '../types';
import { epochMsSql } from './recompute.repository';

const EXACT = `floor(extract(epoch FROM at) * 1000)::int8`;

/**
 * Instants (µs since 1970): 40,000 random seconds, each with the µs offsets that sit next to a
 * millisecond boundary, and the ends of the range.
 */
const INSTANTS = `
  WITH s AS (SELECT floor(random() * 4294967295)::int8 AS sec FROM generate_series(1, 40000)
             UNION ALL VALUES (0::int8), (1640966400), (1672502400), (1704038400), (4294967295)),
       o AS (SELECT unnest(ARRAY[0, 1, 499, 500, 501, 998, 999, 1000, 1001, 123456, 999000, 999001, 999998, 999999]) AS us)
  SELECT to_timestamp(0) + make_interval(secs => s.sec) + make_interval(secs => o.us / 1000000.0) AS at
  FROM s, o`;

async function mismatches(db: Kysely<DB>): Promise<{ n: number; bad: number; sample: string | null }> {
  const { rows } = await sql<{ n: number; bad: number; sample: string | null }>`
    SELECT count(*)::int AS n,
           count(*) FILTER (WHERE ${sql.raw(epochMsSql('at'))} <> ${sql.raw(EXACT)})::int AS bad,
           min(at::text) FILTER (WHERE ${sql.raw(epochMsSql('at'))} <> ${sql.raw(EXACT)}) AS sample
    FROM (${sql.raw(INSTANTS)}) i`.execute(db);
  return rows[0]!;
}

describe('epochMsSql', () => {
  let pg: TestDatabase;
  let lite: DatabaseHandle;
  beforeAll(async () => {
    pg = await createTestDatabase(1);
    lite = await openDatabase({});
  }, 120_000);
  afterAll(async () => {
    await pg.drop();
    await lite.close();
  });

  it('equals the numeric formula on PostgreSQL', async () => {
    const r = await mismatches(pg.db);
    expect(r.n).toBe(40_005 * 14);
    expect(r).toEqual({ n: r.n, bad: 0, sample: null });
  });

  it('equals the numeric formula on PGlite', async () => {
    const r = await mismatches(lite.db);
    expect(r).toEqual({ n: 40_005 * 14, bad: 0, sample: null });
  });

  it('stops being exact after 2106-02-07, where the test above would see it', async () => {
    const { rows } = await sql<{ bad: number }>`
      SELECT count(*) FILTER (WHERE ${sql.raw(epochMsSql('at'))} <> ${sql.raw(EXACT)})::int AS bad
      FROM (SELECT to_timestamp(4294967296 + g) + interval '0.000999 seconds' AS at
            FROM generate_series(0, 9999) g) i`.execute(pg.db);
    expect(rows[0]!.bad).toBeGreaterThan(0);
  });

  it('is a float floor, not a rounding: 0.999 ms before a millisecond stays in the one before', async () => {
    const { rows } = await sql<{ a: string; b: string }>`
      SELECT ${sql.raw(epochMsSql(`'2023-03-31 23:59:59.999999+08'::timestamptz`))}::text AS a,
             ${sql.raw(epochMsSql(`'2023-04-01 00:00:00+08'::timestamptz`))}::text AS b`.execute(pg.db);
    expect(rows[0]).toEqual({ a: '1680278399999', b: '1680278400000' });
  });
});
