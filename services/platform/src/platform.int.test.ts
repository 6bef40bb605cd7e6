/**
 * `pnpm start` as a user runs it: a child process on a new embedded data folder, no PostgreSQL or
 * Redis configured. Checks the endpoints, a clean Ctrl-C, and that a restart keeps the data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MAIN = join(ROOT, 'services', 'platform', 'src', 'main.ts');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Started {
  child: ChildProcess;
  url: string;
  output: string[];
}

async function start(dataDir: string, args: string[] = []): Promise<Started> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
  // The embedded default is what is under test: no database or Redis from the outer environment.
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  delete env.RIDETALLY_MASTER_KEY;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`platform exited during start-up: ${output.join('')}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return { child, url, output };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`platform not ready: ${output.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function interrupt(s: Started): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => s.child.once('exit', (code) => resolve(code)));
  s.child.kill('SIGINT');
  return exited;
}

describe('pnpm start (embedded default)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'rt-platform-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('serves every API and the console, stops cleanly on Ctrl-C and keeps its data', async () => {
    const first = await start(dataDir, ['--no-demo']);
    try {
      expect(first.output.join('')).toContain('/console/');
      const unsigned = await fetch(`${first.url}/v1/taps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"taps":[]}' });
      expect(unsigned.status).toBe(401);
      const refusal = (await unsigned.json()) as { error: { code: string }; serverTime: string };
      expect(refusal.error.code).toBe('unauthorized');
      expect(Date.parse(refusal.serverTime)).toBeGreaterThan(0);

      const rider = await fetch(`${first.url}/v1/openapi.json`);
      expect((await rider.json()) as object).toMatchObject({ openapi: '3.1.0' });
      const staff = await fetch(`${first.url}/api/openapi.json`);
      expect((await staff.json()) as object).toMatchObject({ openapi: '3.1.0' });

      const consolePage = await fetch(`${first.url}/console/`);
      expect(consolePage.status).toBe(200);
      expect(await consolePage.text()).toContain('<html');

      const noLogin = await fetch(`${first.url}/api/rankings?period=2022-Q3`);
      expect(noLogin.status).toBe(401);

      const metrics = await (await fetch(`${first.url}/metrics`)).text();
      expect(metrics).toContain('process_cpu_user_seconds_total');
    } finally {
      expect(await interrupt(first)).toBe(0);
    }

    // A second start on the same folder reuses the database and the generated master key.
    const second = await start(dataDir);
    try {
      expect((await fetch(`${second.url}/readyz`)).status).toBe(200);
      expect(second.output.join('')).not.toContain('demo city will be seeded');
    } finally {
      expect(await interrupt(second)).toBe(0);
    }
  }, 300_000);
});
