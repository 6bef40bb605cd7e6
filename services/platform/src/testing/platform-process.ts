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
export const CLI = join(ROOT, 'services', 'cli', 'src', 'main.ts');

export interface Started {
  child: ChildProcess;
  url: string;
  /** stdout and stderr as they arrive. */
  output: string[];
  /** stdout alone. */
  stdout: string[];
}

/**
 * The environment of the embedded default on `dataDir`: no database, Redis or master key from the
 * outer environment (the embedded default is what is under test).
 */
export function embeddedEnv(dataDir: string, extraEnv: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...extraEnv };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  delete env.RIDETALLY_MASTER_KEY;
  return env;
}

/** Starts the platform on `dataDir` and resolves once /readyz answers 200. */
export async function startPlatform(dataDir: string, args: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): Promise<Started> {
  const port = await freePort();
  const env = embeddedEnv(dataDir, { PORT: String(port), HOST: '127.0.0.1', ...extraEnv });
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const stdout: string[] = [];
  child.stdout?.on('data', (d: Buffer) => {
    output.push(d.toString());
    stdout.push(d.toString());
  });
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const url = `http://127.0.0.1:${port}`;
  // A first start on a new folder (PGlite's initdb, the migrations) takes minutes on a loaded machine.
  const deadline = Date.now() + 300_000;
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

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall-clock seconds. */
  seconds: number;
}

/** `pnpm ridetally <args>` as a child process with `env` (e.g. `embeddedEnv(dataDir)`). */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 }));
  });
}

/**
 * A sample of the platform's /metrics (Prometheus text): the value of the series `name` whose labels
 * include `labels` (e.g. `{result="failed"}`; every series carries the registry's default
 * `service` label too), or undefined when there is no such series.
 */
export async function metricValue(url: string, name: string, labels = ''): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const want = labels.replace(/^\{|\}$/g, '').split(',').filter(Boolean);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    let have: string[] = [];
    if (rest.startsWith('{')) have = rest.slice(1, rest.indexOf('}')).split(',');
    else if (!rest.startsWith(' ')) continue;
    if (want.every((w) => have.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/**
 * Resolves once the in-process aggregator has applied every outbox entry: /metrics reports
 * `ridetally_outbox_pending 0` (a count of unprocessed entries, read from the database at scrape).
 */
export async function waitForOutboxDrained(s: Started, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (s.child.exitCode !== null) throw new Error(`platform exited: ${s.output.join('').slice(-4000)}`);
    const pending = await metricValue(s.url, 'ridetally_outbox_pending');
    if (pending === 0) return;
    if (Date.now() > deadline) throw new Error(`outbox still has ${pending} pending entries after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
