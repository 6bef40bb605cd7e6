/**
 * Bulk reads and writes for the full recompute: rows streamed out with `COPY … TO STDOUT` and written
 * with `COPY … FROM STDIN` on PostgreSQL, inside one transaction on one connection. Building a JS
 * object per row through the driver's row parser, and sending hundreds of thousands of values as
 * array parameters, were what the recompute spent its time on; COPY's text format is split with
 * `indexOf`. PGlite (embedded) has no COPY through its driver: the same statements run as plain
 * queries there and the writes go through the caller's fallback.
 */
import { isAscii } from 'node:buffer';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Kysely, PostgresDialect, sql, type PostgresPool, type PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
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
  /**
   * The column's text (not NULL), as the string `cache` already holds for it when there is one: for a
   * column of few distinct values read on every row (a route, a vehicle), one string per value rather
   * than one per row. `cache` is a `stringCache()`.
   */
  shared(k: number, cache: StringCache): string;
  /**
   * Columns `from`…`to` as one opaque string, equal for two rows exactly when those columns are
   * (compare it with `spanEq`): one comparison per row for a key of several columns.
   */
  span(from: number, to: number): string;
  spanEq(from: number, to: number, span: string): boolean;
}

/** Strings by a hash of their text, for `RowCursor.shared`. */
export type StringCache = (string | undefined)[];

/** An empty cache of `size` (a power of two) strings for `RowCursor.shared`. */
export function stringCache(size = 4096): StringCache {
  if (!(size > 0 && (size & (size - 1)) === 0)) throw new Error('bulk: cache size must be a power of two');
  return new Array<string | undefined>(size).fill(undefined);
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
    shared: (k) => textOf(values[k])!,
    span: (from, to) => JSON.stringify(values.slice(from, to + 1).map(textOf)),
    spanEq: (from, to, span) => cursor.span(from, to) === span,
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
    // A field with COPY escapes may still equal v once they are undone. (The search for a backslash
    // stays inside the field: lastIndexOf from its end ran back through the whole chunk when there
    // was none, once per comparison of fields of different lengths.)
    if (len <= v.length) return false;
    const t = this.text;
    for (let i = a; i < a + len; i++) if (t.charCodeAt(i) === BACKSLASH) return this.str(k) === v;
    return false;
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

  shared(k: number, cache: StringCache): string {
    const t = this.text;
    const a = this.starts[k]!;
    const b = this.ends[k]!;
    let h = b - a;
    for (let i = a; i < b; i++) h = (Math.imul(h, 31) + t.charCodeAt(i)) | 0;
    const slot = h & (cache.length - 1);
    const v = cache[slot];
    if (v !== undefined && this.eq(k, v)) return v;
    const made = this.str(k);
    if (made === null) throw new Error('bulk: shared() of a NULL column');
    // V8 cuts a string of 13 characters or more as a slice holding on to the whole received chunk:
    // the cache keeps a copy of its own.
    return (cache[slot] = made.length < 13 ? made : Buffer.from(made, 'utf8').toString('utf8'));
  }

  /**
   * The raw text of the columns: the same bytes always decode to the same string (a row holding
   * non-ASCII bytes is decoded as UTF-8 whichever chunk it comes in), and COPY escapes deterministically.
   */
  span(from: number, to: number): string {
    return this.text.slice(this.starts[from], this.ends[to]);
  }

  spanEq(from: number, to: number, span: string): boolean {
    const a = this.starts[from]!;
    return this.ends[to]! - a === span.length && this.text.startsWith(span, a);
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

/** Protocol message types met while a COPY streams out (the rest: CopyOutResponse, notices, are skipped). */
const COPY_DATA = 0x64; // 'd': one row
const COPY_DONE = 0x63; // 'c'
const ERROR_RESPONSE = 0x45; // 'E'

/**
 * `COPY (query) TO STDOUT` read straight off the connection's socket, as pg-copy-streams does but
 * without its Buffer per row (a profile of the recompute showed its per-row Buffers at ~150 MB and a
 * tenth of the Node CPU). The rows of each socket chunk are decoded in one go (latin1, so that string
 * offsets are byte offsets; a chunk holding any non-ASCII byte is decoded row by row as UTF-8) and
 * handed to `fn` in order. At CopyDone, or at an error from the server, the rest of the socket's bytes
 * go back to pg's own parser, which finishes the query: the connection stays usable. An exception in
 * `fn` stops the calls; the rows left are read and dropped, and the promise rejects with it.
 */
function copyRows(client: pg.PoolClient, query: string, fn: (row: RowCursor) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const reader = new CopyOutReader(fn);
    // A pg "submittable" (as pg-copy-streams and pg-cursor are): pg calls `submit` when the query's
    // turn comes, then the handle* methods with what its own parser reads after the COPY.
    const submittable = {
      submit(connection: pg.Connection): Error | undefined {
        try {
          reader.attach(connection.stream);
        } catch (e) {
          return e as Error;
        }
        connection.query(`COPY (${query}) TO STDOUT`);
        return undefined;
      },
      handleError(err: Error): void {
        reader.release();
        reject(err);
      },
      handleCommandComplete(): void {},
      handleReadyForQuery(): void {
        if (reader.failure === undefined) resolve();
        else reject(reader.failure);
      },
    };
    client.query(submittable);
  });
}

class CopyOutReader {
  failure: Error | undefined = undefined;
  private stream: NodeJS.EventEmitter | undefined;
  private pgHandler: ((chunk: Buffer) => void) | undefined;
  /** The start of a message split across socket chunks. */
  private pending: Buffer | null = null;
  /** Payload [start, end) of each row of the current chunk, '\n' excluded. */
  private ranges = new Int32Array(4096);
  private readonly cursor = new CopyCursor();

  constructor(private readonly fn: (row: RowCursor) => void) {}

  attach(stream: NodeJS.EventEmitter): void {
    const listeners = stream.listeners('data');
    if (listeners.length !== 1)
      throw new Error(`bulk: ${listeners.length} data listeners on the connection, 1 expected`);
    this.stream = stream;
    this.pgHandler = listeners[0] as (chunk: Buffer) => void;
    stream.removeListener('data', this.pgHandler);
    stream.on('data', this.onData);
  }

  /** Gives the socket back to pg (idempotent), with the bytes it has yet to parse. */
  release(rest?: Buffer): void {
    const stream = this.stream;
    const pgHandler = this.pgHandler;
    if (!stream || !pgHandler) return;
    this.stream = undefined;
    this.pgHandler = undefined;
    stream.removeListener('data', this.onData);
    stream.on('data', pgHandler);
    if (rest && rest.length > 0) pgHandler(rest);
  }

  private readonly onData = (chunk: Buffer): void => {
    let pos = 0;
    if (this.pending) {
      // Complete the one message split across chunks (a row at most) in a buffer of its own.
      const p = this.pending;
      if (p.length + chunk.length < 5) {
        this.pending = Buffer.concat([p, chunk]);
        return;
      }
      const head = p.length >= 5 ? p : Buffer.concat([p, chunk.subarray(0, 5 - p.length)]);
      const need = 1 + head.readUInt32BE(1) - p.length;
      if (need > chunk.length) {
        this.pending = Buffer.concat([p, chunk]);
        return;
      }
      this.pending = null;
      const message = Buffer.concat([p, chunk.subarray(0, need)]);
      const stop = this.scan(message, 0);
      if (stop < 0) {
        this.release(Buffer.concat([message.subarray(-stop - 1), chunk.subarray(need)]));
        return;
      }
      pos = need;
    }
    const stop = this.scan(chunk, pos);
    if (stop < 0) this.release(chunk.subarray(-stop - 1));
    else if (stop < chunk.length) this.pending = Buffer.from(chunk.subarray(stop));
  };

  /**
   * Hands the rows of the whole messages in buf[pos…] to `fn`. Returns where the first incomplete
   * message starts, or -(k + 1) when the COPY has ended and pg must parse from byte k on.
   */
  private scan(buf: Buffer, pos: number): number {
    let n = 0;
    let ranges = this.ranges;
    while (pos + 5 <= buf.length) {
      const type = buf[pos]!;
      const end = pos + 1 + buf.readUInt32BE(pos + 1);
      if (end > buf.length) break;
      if (type === COPY_DATA) {
        if (2 * n + 2 > ranges.length) {
          const grown = new Int32Array(ranges.length * 2);
          grown.set(ranges);
          this.ranges = ranges = grown;
        }
        ranges[2 * n] = pos + 5;
        ranges[2 * n + 1] = end - 1;
        n++;
      } else if (type === COPY_DONE || type === ERROR_RESPONSE) {
        this.rows(buf, n);
        return -(type === COPY_DONE ? end : pos) - 1;
      }
      pos = end;
    }
    this.rows(buf, n);
    return pos;
  }

  private rows(buf: Buffer, n: number): void {
    if (n === 0 || this.failure !== undefined) return;
    const ranges = this.ranges;
    const cursor = this.cursor;
    const from = ranges[0]!;
    const to = ranges[2 * n - 1]!;
    try {
      if (isAscii(buf.subarray(from, to))) {
        cursor.text = buf.toString('latin1', from, to);
        for (let i = 0; i < n; i++) this.row(ranges[2 * i]! - from, ranges[2 * i + 1]! - from);
      } else {
        for (let i = 0; i < n; i++) {
          cursor.text = buf.toString('utf8', ranges[2 * i], ranges[2 * i + 1]);
          this.row(0, cursor.text.length);
        }
      }
    } catch (e) {
      this.failure = e instanceof Error ? e : new Error('bulk: a row callback threw', { cause: e });
    }
  }

  /** Splits the row text[a, b) at its tabs (found with indexOf: native, much faster than a loop). */
  private row(a: number, b: number): void {
    const cursor = this.cursor;
    const text = cursor.text;
    const starts = cursor.starts;
    const ends = cursor.ends;
    let k = 0;
    for (let tab = text.indexOf('\t', a); tab >= 0 && tab < b; tab = text.indexOf('\t', a)) {
      starts[k] = a;
      ends[k++] = tab;
      a = tab + 1;
    }
    starts[k] = a;
    ends[k] = b;
    this.fn(cursor);
  }
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
