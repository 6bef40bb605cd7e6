/**
 * Test databases: one migrated template per migration set, cloned per test file with
 * CREATE DATABASE … TEMPLATE (fast, and every file starts from the same empty schema).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openDatabase, type DatabaseHandle } from '../client';
import { migrateToLatest } from '../migrate';

/** Server URL tests use; its database part is replaced per test. */
export const TEST_SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

function urlFor(database: string): string {
  const u = new URL(TEST_SERVER_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

function templateName(): string {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'migrations');
  const h = createHash('sha256');
  for (const f of readdirSync(dir).sort()) h.update(f).update(readFileSync(join(dir, f)));
  return `rt_template_${h.digest('hex').slice(0, 12)}`;
}

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: TEST_SERVER_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Creates the template for the current migrations if it does not exist (safe to race). */
export async function ensureTemplate(): Promise<string> {
  const name = templateName();
  await withAdmin(async (c) => {
    await c.query('SELECT pg_advisory_lock(74110001)');
    try {
      const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rowCount) return;
      const building = `${name}_build`;
      await c.query(`DROP DATABASE IF EXISTS ${building}`);
      await c.query(`CREATE DATABASE ${building}`);
      const h = await openDatabase({ url: urlFor(building), poolSize: 1 });
      try {
        await migrateToLatest(h.db);
      } finally {
        await h.close();
      }
      await c.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
    } finally {
      await c.query('SELECT pg_advisory_unlock(74110001)');
    }
  });
  return name;
}

export interface TestDatabase extends DatabaseHandle {
  url: string;
  name: string;
  /** Closes the handle and drops the database. */
  drop(): Promise<void>;
}

/** A fresh, migrated, empty PostgreSQL database for one test file. */
export async function createTestDatabase(poolSize = 5): Promise<TestDatabase> {
  const template = await ensureTemplate();
  const name = `rt_test_${randomBytes(6).toString('hex')}`;
  await withAdmin(async (c) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
        return;
      } catch (e) {
        // Another session cloning the same template at the same instant: try again shortly.
        if (attempt > 20 || !/being accessed by other users/.test((e as Error).message)) throw e;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  });
  const url = urlFor(name);
  const handle = await openDatabase({ url, poolSize });
  return {
    ...handle,
    url,
    name,
    async drop() {
      await handle.close();
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** A unique prefix for BullMQ queues / Redis keys in one test. */
export function uniqueTestPrefix(label = 't'): string {
  return `rt-${label}-${randomBytes(4).toString('hex')}`;
}

/** A TCP port free on 127.0.0.1 right now, for a service a test starts. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
