/**
 * End to end through the platform's public APIs: `pnpm start` on a fresh PostgreSQL database (a
 * child process), `ridetally simulate --url` (setup, registration, signed tap batches, ratings),
 * `recompute`, then `verify` must report no difference — and must report one once the ground truth
 * is altered. Processes are spawned by path: packages never import services.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, createTestDatabase, type TestDatabase } from '@ridetally/db/testing';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const tsx = join(root, 'node_modules/.bin/tsx');


function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(tsx, [join(root, 'services/cli/src/main.ts'), ...args], { cwd: root, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('simulate → platform → verify', () => {
  let db: TestDatabase;
  let platform: ChildProcess | undefined;
  let out: string;
  let env: NodeJS.ProcessEnv;
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase(1);
    out = await mkdtemp(join(tmpdir(), 'sim-e2e-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    env = {
      ...process.env,
      DATABASE_URL: db.url,
      RIDETALLY_MASTER_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: 'warn',
      PORT: String(port),
      HOST: '127.0.0.1',
    };
    platform = spawn(tsx, [join(root, 'services/platform/src/main.ts')], { cwd: root, env, stdio: 'ignore' });
    const deadline = Date.now() + 90_000;
    for (;;) {
      const ok = await fetch(`${url}/v1/openapi.json`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline || platform.exitCode !== null) throw new Error('the platform did not start');
      await new Promise((r) => setTimeout(r, 500));
    }
  }, 120_000);

  afterAll(async () => {
    if (platform && platform.exitCode === null) {
      const exited = new Promise((r) => platform!.once('exit', r));
      platform.kill('SIGTERM');
      await exited;
    }
    await db?.drop();
    if (out) await rm(out, { recursive: true, force: true });
  }, 60_000);

  it('verifies with zero differences, and catches an altered count', async () => {
    // Five days across the Q2/Q3 boundary (2022-06-28 … 07-02) of a tiny city.
    const sim = await run(
      [
        'simulate',
        '--seed',
        '21',
        '--scale',
        '0.002',
        '--days',
        '5',
        '--start',
        '2022-06-28',
        '--url',
        url,
        '--out',
        out,
        '--concurrency',
        '4',
      ],
      env,
    );
    expect(sim.stderr).not.toMatch(/unexpected error/);
    expect(sim.code).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'http-report.json'), 'utf8')) as {
      taps: { accepted: number; duplicates: number; failed: object };
      truth: { taps: number };
      ratings: { accepted: number; unresolved: number };
    };
    expect(report.taps.accepted).toBe(report.truth.taps);
    expect(report.taps.failed).toEqual({});
    expect(report.ratings.accepted).toBeGreaterThan(0);
    expect(report.ratings.unresolved).toBe(0);

    for (const period of ['2022-Q2', '2022-Q3', '2022'])
      expect((await run(['recompute', '--period', period], env)).code).toBe(0);
    const verified = await run(['verify', '--against', out], env);
    expect(verified.stdout).toMatch(/0 count, 0 ranking, 0 volume difference/);
    expect(verified.code).toBe(0);

    // One ride more in the truth for the first person of Q3: verify must say so and exit 1.
    const file = join(out, 'ground-truth/counts-2022-Q3.csv');
    const [header, first, ...rest] = (await readFile(file, 'utf8')).trim().split('\n');
    const [ref, rides, last] = first!.split(',');
    await writeFile(file, [header, `${ref},${Number(rides) + 1},${last}`, ...rest].join('\n') + '\n');
    const altered = await run(['verify', '--against', out, '--no-rankings', '--no-volume'], env);
    expect(altered.code).toBe(1);
    expect(altered.stdout).toContain(`counts  2022-Q3  ${ref} `);
    expect(altered.stdout).toContain(`expected ${Number(rides) + 1}  platform ${rides}`);
  }, 300_000);
});
