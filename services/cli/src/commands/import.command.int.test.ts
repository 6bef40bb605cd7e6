/** The registry CLI commands end to end: exit codes, reports on stderr/stdout, the one-time token. */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { generateMasterKey, keyringFromEnv } from '@ridetally/keyring';

const run = promisify(execFile);
const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'main.ts');
const masterKey = generateMasterKey();
let tdb: TestDatabase;
let dir: string;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      env: { ...process.env, DATABASE_URL: tdb.url, RIDETALLY_MASTER_KEY: masterKey, LOG_LEVEL: 'silent' },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  tdb = await createTestDatabase(2);
  dir = mkdtempSync(join(tmpdir(), 'rt-cli-'));
});
afterAll(async () => {
  await tdb.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('ridetally import / client', () => {
  // Each CLI process transpiles the whole CLI (seconds on a loaded machine): three processes, run at once.
  it('reports bad lines with exit 1, imports a GTFS feed, prints a client token once', { timeout: 120_000 }, async () => {
    const bad = join(dir, 'employers-bad.csv');
    writeFileSync(bad, '\uFEFFcode,name,type,city_area\nE1,市财政局,agency,true\nE2,某公司,company,yes\n');
    const feed = join(dir, 'gtfs');
    mkdirSync(feed);
    writeFileSync(join(feed, 'agency.txt'), 'agency_id,agency_name,agency_url,agency_timezone\nA,吕梁公交,http://example.invalid,Asia/Shanghai\n');
    writeFileSync(join(feed, 'routes.txt'), 'route_id,agency_id,route_short_name,route_type\nR1,A,1路,3\n');

    const [refused, gtfs, client] = await Promise.all([
      cli('import', 'employers', bad),
      cli('import', 'gtfs', feed),
      cli('client', 'add', '--name', '掌上公交', '--json'),
    ]);

    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('line 3: type must be one of agency, institution, soe, other\nline 3: city_area must be true or false\n');
    expect(refused.stderr).toContain('import employers: 2 problem(s) in 2 rows; nothing was imported');
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM employers`.execute(tdb.db)).rows[0]!.n).toBe(0);

    expect(gtfs).toMatchObject({ code: 0, stdout: 'import gtfs: 1 routes (1 city-area); created 1, updated 0, unchanged 0\n' });

    expect(client.code).toBe(0);
    const { clientId, token } = JSON.parse(client.stdout) as { clientId: string; token: string };
    const { rows } = await sql<{ token_hash: string }>`SELECT token_hash FROM api_clients WHERE client_id = ${clientId}`.execute(tdb.db);
    expect(rows[0]!.token_hash).toBe(keyringFromEnv(masterKey).hashToken(token));
  });
});
