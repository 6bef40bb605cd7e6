/**
 * Test helpers: `pnpm start` as a user runs it, as a child process on an embedded data folder with
 * no PostgreSQL or Redis from the outer environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '@ridetally/db/testing';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const MAIN = join(ROOT, 'services', 'platform', 'src', 'main.ts');


export interface Started {
  child: ChildProcess;
  url: string;
  /** stdout and stderr as they arrive. */
  output: string[];
  /** stdout alone. */
  stdout: string[];
}

/** Starts the platform on `dataDir` and resolves once /readyz answers 200. */
export async function startPlatform(dataDir: string, args: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): Promise<Started> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...extraEnv };
  // The embedded default is what is under test: no database or Redis from the outer environment.
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  delete env.RIDETALLY_MASTER_KEY;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const stdout: string[] = [];
  child.stdout?.on('data', (d: Buffer) => {
    output.push(d.toString());
    stdout.push(d.toString());
  });
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`platform exited during start-up: ${output.join('')}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return { child, url, output, stdout };
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

/** Ctrl-C; resolves with the exit code. */
export async function interrupt(s: Started): Promise<number | null> {
  if (s.child.exitCode !== null) return s.child.exitCode;
  const exited = new Promise<number | null>((resolve) => s.child.once('exit', (code) => resolve(code)));
  s.child.kill('SIGINT');
  return exited;
}

/** Polls until `text` appears in the output (or the process exits, or the deadline passes). */
export async function waitForOutput(s: Started, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!s.output.join('').includes(text)) {
    if (s.child.exitCode !== null) throw new Error(`platform exited: ${s.output.join('').slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`"${text}" not seen within ${timeoutMs} ms: ${s.output.join('').slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
