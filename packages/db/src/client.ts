/**
 * The database client: PostgreSQL over `pg` when a URL is given, PGlite in a data folder otherwise.
 * Both get the same migrations and the same type parsing (int8 → number, date → 'yyyy-MM-dd').
 */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { btree_gist } from '@electric-sql/pglite/contrib/btree_gist';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import type { DB } from './types';

export type Database = Kysely<DB>;

export interface DatabaseHandle {
  db: Database;
  kind: 'postgres' | 'pglite';
  /** The pg pool (PostgreSQL only): for COPY and LISTEN, which Kysely does not cover. */
  pool?: pg.Pool;
  /** The PGlite instance (embedded only). */
  pglite?: PGlite;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres:// URL; when absent, `dataDir` is used with PGlite. */
  url?: string | undefined;
  dataDir?: string | undefined;
  poolSize?: number;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
}

const INT8 = 20;
const INT8_ARRAY = 1016;
const DATE = 1082;
const INT4_ARRAY = 1007;

const toNumber = (v: string) => Number(v);
const identity = (v: string) => v;

type TypeId = Parameters<typeof pg.types.getTypeParser>[0];

function pgTypeParser(oid: number): (value: string) => unknown {
  if (oid === INT8) return toNumber;
  if (oid === DATE) return identity;
  // pg-types declares its parsers as returning any; narrow to unknown here.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unnecessary-type-assertion
  const parse: (value: string) => unknown = pg.types.getTypeParser((oid === INT8_ARRAY ? INT4_ARRAY : oid) as TypeId);
  return parse;
}

export function createPool(url: string, poolSize = 10, applicationName = 'ridetally'): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    application_name: applicationName,
    types: { getTypeParser: pgTypeParser as typeof pg.types.getTypeParser },
    // Fail fast when the database is unreachable: callers answer 503 rather than hang.
    connectionTimeoutMillis: 5000,
  });
  // A client's connection dying (database restarted, network cut) must not crash the process: the
  // query in flight fails with its own error, and the pool replaces the client. Idle clients report
  // through the pool; a checked-out client emits on itself, so every new client gets a listener.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

export async function createPglite(dataDir: string | undefined): Promise<PGlite> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const instance = await PGlite.create(dataDir ?? 'memory://', {
    extensions: { btree_gist },
    parsers: { [INT8]: toNumber, [DATE]: identity },
  });
  await instance.exec(`SET TIME ZONE 'UTC'`);
  return instance;
}

/** The pg pool behind each database opened here (COPY needs a raw client; Kysely does not expose it). */
const pools = new WeakMap<Database, pg.Pool>();

/** The pg pool of a database opened by `openDatabase` (undefined for PGlite). */
export function poolOf(db: Database): pg.Pool | undefined {
  return pools.get(db);
}

/** Opens the database named by the options (PostgreSQL or PGlite). */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url) {
    const pool = createPool(options.url, options.poolSize, options.applicationName);
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    pools.set(db, pool);
    return { db, kind: 'postgres', pool, close: () => db.destroy() };
  }
  const pglite = await createPglite(options.dataDir);
  const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
  return { db, kind: 'pglite', pglite, close: () => db.destroy() };
}

/** True when the database answers a trivial query. */
export async function pingDatabase(db: Database): Promise<boolean> {
  try {
    await sql`SELECT 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
