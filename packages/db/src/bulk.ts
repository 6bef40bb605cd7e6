/**
 * Bulk reads and writes for the full recompute: rows streamed out with `COPY … TO STDOUT` and written
 * with `COPY … FROM STDIN` on PostgreSQL, inside one transaction on one connection. Building a JS
 * object per row through the driver's row parser, and sending hundreds of thousands of values as
 * array parameters, were what the recompute spent its time on; COPY's text format is split with
 * `indexOf`. PGlite (embedded) has no COPY through its driver: the same statements run as plain
 * queries there and the writes go through the caller's fallback.
 */
import { StringDecoder } from 'node:string_decoder';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Kysely, PostgresDialect, sql, type PostgresPool, type PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { poolOf, type Database } from './client';
import type { DB } from './types';

/** One row written with COPY: the columns' text forms, null for SQL NULL. */
export type TextRow = (string | null)[];

/**
 * The current row of a stream. Fields are read where they lie in the received text: a row costs no
 * array and no string but those the reader asks for (`int` parses digits in place).
 */
export interface RowCursor {
  /** The column's text (COPY escapes undone); null for SQL NULL. */
  str(k: number): string | null;
  /** The column as an integer (it must be one, or NULL: then NaN). */
  int(k: number): number;
  /** The column as comma-separated integers (`array_to_string(ints, ',')`); [] for '' or NULL. */
  ints(k: number): number[];
  isNull(k: number): boolean;
  /** The column's text equals `v`, compared where it lies (no string made). */
  eq(k: number, v: string): boolean;
  /** The column, as `ints` reads it, equals `v`, compared where it lies. */
  intsEq(k: number, v: readonly number[]): boolean;
}

export interface BulkSession {
  /** The transaction, for the repositories' ordinary statements. */
  db: Kysely<DB>;
  /**
   * Streams the rows of a query without parameters (COPY on PostgreSQL), in the query's order,
   * calling `fn` with a cursor on each row (valid only during the call).
   */
  rows(query: string, fn: (row: RowCursor) => void): Promise<void>;
  /**
   * Writes rows into a table with COPY (PostgreSQL only; undefined on PGlite, where the caller uses
   * ordinary statements). Values are text forms; null is SQL NULL.
   */
  copyIn?: (table: string, columns: readonly string[], rows: Iterable<TextRow>) => Promise<void>;
}

/** Runs `fn` in one transaction that can stream rows in and out (see the file's doc). */
export async function withBulkTransaction<T>(db: Database, fn: (s: BulkSession) => Promise<T>): Promise<T> {
  const pool = poolOf(db);
  if (!pool) {
    return db.transaction().execute((tx) =>
      fn({
        db: tx,
        rows: (query, fn) => plainRows(tx, query, fn),
      }),
    );
  }
  const client = await pool.connect();
  const kdb = new Kysely<DB>({ dialect: new PostgresDialect({ pool: singleClientPool(client) }) });
  let ok = false;
  try {
    await client.query('BEGIN');
    // `connection()` serialises the statements of concurrent callers on the one client, as a transaction does.
    const result = await kdb.connection().execute((conn) =>
      fn({
        db: conn,
        rows: (query, fn) => copyRows(client, query, fn),
        copyIn: (table, columns, rows) => copyInto(client, table, columns, rows),
      }),
    );
    await client.query('COMMIT');
    ok = true;
    return result;
  } finally {
    if (!ok) await client.query('ROLLBACK').catch(() => undefined);
    // A client whose transaction failed half-way is dropped rather than reused.
    client.release(ok ? undefined : true);
  }
}

/** A Kysely pool over one checked-out client (released by `withBulkTransaction`, not by Kysely). */
function singleClientPool(client: pg.PoolClient): PostgresPool {
  const wrapped: PostgresPoolClient = {
    query: client.query.bind(client),
    release: () => undefined,
  };
  return { connect: () => Promise.resolve(wrapped), end: () => Promise.resolve() };
}

async function plainRows(db: Kysely<DB>, query: string, fn: (row: RowCursor) => void): Promise<void> {
  const { rows } = await sql.raw<Record<string, unknown>>(query).execute(db);
  let values: unknown[] = [];
  const cursor: RowCursor = {
    str: (k) => textOf(values[k]),
    int: (k) => (values[k] === null || values[k] === undefined ? NaN : Number(values[k])),
    ints: (k) => {
      const t = textOf(values[k]);
      return t ? t.split(',').map(Number) : [];
    },
    isNull: (k) => values[k] === null || values[k] === undefined,
    eq: (k, v) => textOf(values[k]) === v,
    intsEq: (k, v) => {
      const list = cursor.ints(k);
      return list.length === v.length && list.every((x, i) => x === v[i]);
    },
  };
  for (const r of rows) {
    values = Object.values(r);
    fn(cursor);
  }
}

/** A plain query's value in the text form COPY would give (the statements cast what they need). */
function textOf(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  throw new Error(`bulk: a streamed column must be text or a number, got ${typeof v}`);
}

const BACKSLASH = 92;
const MINUS = 45;

/** A cursor over COPY text: field k of the current row is text[starts[k], ends[k]). */
class CopyCursor implements RowCursor {
  text = '';
  readonly starts: number[] = [];
  readonly ends: number[] = [];

  isNull(k: number): boolean {
    const a = this.starts[k]!;
    return (
      this.ends[k]! - a === 2 && this.text.charCodeAt(a) === BACKSLASH && this.text.charCodeAt(a + 1) === 78
    ); // \N
  }

  str(k: number): string | null {
    if (this.isNull(k)) return null;
    const f = this.text.slice(this.starts[k], this.ends[k]);
    return f.includes('\\') ? unescapeCopy(f) : f;
  }

  int(k: number): number {
    if (this.isNull(k)) return NaN;
    const t = this.text;
    let i = this.starts[k]!;
    const end = this.ends[k]!;
    let sign = 1;
    if (t.charCodeAt(i) === MINUS) {
      sign = -1;
      i++;
    }
    let n = 0;
    for (; i < end; i++) {
      const d = t.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return Number(t.slice(this.starts[k], end));
      n = n * 10 + d;
    }
    return sign * n;
  }

  eq(k: number, v: string): boolean {
    const a = this.starts[k]!;
    const len = this.ends[k]! - a;
    if (len === v.length && this.text.startsWith(v, a)) return !v.includes('\\') || this.str(k) === v;
    // A field with COPY escapes may still equal v once they are undone.
    return len > v.length && this.text.lastIndexOf('\\', a + len - 1) >= a && this.str(k) === v;
  }

  intsEq(k: number, v: readonly number[]): boolean {
    if (this.isNull(k)) return v.length === 0;
    const t = this.text;
    const end = this.ends[k]!;
    let i = this.starts[k]!;
    let n = 0;
    while (i < end) {
      if (n >= v.length) return false;
      let j = i;
      let x = 0;
      for (; j < end; j++) {
        const d = t.charCodeAt(j) - 48;
        if (d === -4) break; // ,
        if (d < 0 || d > 9) {
          // Not plain digits (a sign): read the list the slow way.
          const all = this.ints(k);
          return all.length === v.length && all.every((y, m) => y === v[m]);
        }
        x = x * 10 + d;
      }
      if (x !== v[n++]) return false;
      i = j + 1;
    }
    return n === v.length;
  }

  ints(k: number): number[] {
    const out: number[] = [];
    if (this.isNull(k)) return out;
    const t = this.text;
    const end = this.ends[k]!;
    let i = this.starts[k]!;
    while (i < end) {
      let j = i;
      let n = 0;
      let plain = true;
      for (; j < end; j++) {
        const c = t.charCodeAt(j);
        if (c === 44) break; // ,
        const d = c - 48;
        if (d < 0 || d > 9) plain = false;
        n = n * 10 + d;
      }
      out.push(plain ? n : Number(t.slice(i, j)));
      i = j + 1;
    }
    return out;
  }
}

/** COPY text format → one cursor call per row. */
async function copyRows(client: pg.PoolClient, query: string, fn: (row: RowCursor) => void): Promise<void> {
  const stream = client.query(copyTo(`COPY (${query}) TO STDOUT`));
  const decoder = new StringDecoder('utf8');
  const cursor = new CopyCursor();
  let rest = '';
  const scan = (text: string, final: boolean): string => {
    cursor.text = text;
    const starts = cursor.starts;
    const ends = cursor.ends;
    let lineStart = 0;
    for (;;) {
      const nl = text.indexOf('\n', lineStart);
      const lineEnd = nl >= 0 ? nl : final ? text.length : -1;
      if (lineEnd < 0 || (nl < 0 && lineStart >= text.length)) break;
      // Tabs found with indexOf (native, and much faster than a loop over the characters).
      let k = 0;
      let a = lineStart;
      for (let tab = text.indexOf('\t', a); tab >= 0 && tab < lineEnd; tab = text.indexOf('\t', a)) {
        starts[k] = a;
        ends[k++] = tab;
        a = tab + 1;
      }
      starts[k] = a;
      ends[k] = lineEnd;
      fn(cursor);
      lineStart = lineEnd + 1;
      if (nl < 0) break;
    }
    return lineStart < text.length ? text.slice(lineStart) : '';
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) rest = scan(rest + decoder.write(chunk), false);
  rest += decoder.end();
  if (rest.length > 0) scan(rest, true);
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

/** COPY text escapes: \b \f \n \r \t \v \\, \ooo (octal) and \xhh. */
function unescapeCopy(f: string): string {
  return f.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === 'x' && e.length > 1) return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ESCAPES[e] ?? e;
  });
}

/** A value in COPY text format. */
function escapeCopy(v: string | null): string {
  if (v === null) return '\\N';
  return /[\\\t\n\r]/.test(v)
    ? v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
    : v;
}

async function copyInto(
  client: pg.PoolClient,
  table: string,
  columns: readonly string[],
  rows: Iterable<TextRow>,
): Promise<void> {
  const target = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  // ~1 MB per chunk written to the socket.
  function* chunks(): Generator<string> {
    let buf = '';
    for (const r of rows) {
      buf += r.map(escapeCopy).join('\t') + '\n';
      if (buf.length >= 1 << 20) {
        yield buf;
        buf = '';
      }
    }
    if (buf.length > 0) yield buf;
  }
  await pipeline(Readable.from(chunks()), target);
}
