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

/** One streamed row: the columns' text forms, null for SQL NULL. */
export type TextRow = (string | null)[];

export interface BulkSession {
  /** The transaction, for the repositories' ordinary statements. */
  db: Kysely<DB>;
  /** Streams the rows of a query without parameters (COPY on PostgreSQL), in the query's order. */
  rows(query: string): AsyncIterable<TextRow[]>;
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
        rows: (query) => plainRows(tx, query),
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
        rows: (query) => copyRows(client, query),
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

async function* plainRows(db: Kysely<DB>, query: string): AsyncIterable<TextRow[]> {
  const { rows } = await sql.raw<Record<string, unknown>>(query).execute(db);
  const out: TextRow[] = [];
  for (const r of rows) out.push(Object.values(r).map(textOf));
  yield out;
}

/** A plain query's value in the text form COPY would give (the statements cast what they need). */
function textOf(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  throw new Error(`bulk: a streamed column must be text or a number, got ${typeof v}`);
}

/** COPY text format → rows, a chunk of rows per network chunk. */
async function* copyRows(client: pg.PoolClient, query: string): AsyncIterable<TextRow[]> {
  const stream = client.query(copyTo(`COPY (${query}) TO STDOUT`));
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const text = rest + decoder.write(chunk);
    const out: TextRow[] = [];
    let i = 0;
    for (let j = text.indexOf('\n'); j >= 0; j = text.indexOf('\n', i)) {
      out.push(parseLine(text.slice(i, j)));
      i = j + 1;
    }
    rest = text.slice(i);
    if (out.length > 0) yield out;
  }
  rest += decoder.end();
  if (rest.length > 0) yield [parseLine(rest)];
}

function parseLine(line: string): TextRow {
  const fields: TextRow = line.split('\t');
  for (let k = 0; k < fields.length; k++) {
    const f = fields[k]!;
    if (f.length > 0 && f.includes('\\')) fields[k] = f === '\\N' ? null : unescapeCopy(f);
  }
  return fields;
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

/** COPY text escapes: \b \f \n \r \t \v \\, \ooo (octal) and \xhh. */
export function unescapeCopy(f: string): string {
  return f.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === 'x' && e.length > 1) return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ESCAPES[e] ?? e;
  });
}

/** A value in COPY text format. */
export function escapeCopy(v: string | null): string {
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
