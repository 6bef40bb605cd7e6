/**
 * Infrastructure of the fault tests: private Redis and PostgreSQL servers (the shared ones on 6379 and
 * 5432 are never touched), service processes spawned by path, CLI runs, and one cleanup stack that
 * undoes everything started even when a step fails.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PG_BIN = '/usr/lib/postgresql/15/bin';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Undo actions run last-in first-out; each failure is reported and the others still run. */
export interface Cleanup {
  add(what: string, undo: () => Promise<void> | void): void;
  run(): Promise<void>;
}

const active: Cleanup[] = [];

/** Runs every cleanup not yet run, newest first (on SIGINT/SIGTERM of the runner). */
export async function runAllCleanups(): Promise<void> {
  for (const cleanup of [...active].reverse()) await cleanup.run();
}

export function createCleanup(): Cleanup {
  const stack: { what: string; undo: () => Promise<void> | void }[] = [];
  // One run at a time: on SIGTERM the signal handler and the interrupted scenario's `finally` both
  // run the same stack; side by side, one removed the PostgreSQL data directory while the other was
  // still stopping the server (a half-deleted temp dir was left behind).
  let running: Promise<void> | undefined;
  const unwind = async () => {
    while (stack.length > 0) {
      const step = stack.pop()!;
      try {
        await step.undo();
      } catch (err) {
        process.stderr.write(`cleanup ${step.what}: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
  };
  const cleanup: Cleanup = {
    add(what, undo) {
      stack.push({ what, undo });
    },
    run() {
      const at = active.indexOf(cleanup);
      if (at >= 0) active.splice(at, 1);
      running ??= unwind().finally(() => (running = undefined));
      return running;
    },
  };
  active.push(cleanup);
  return cleanup;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export async function tempDir(cleanup: Cleanup, label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `rt-faults-${label}-`));
  cleanup.add(`rm ${dir}`, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

// ------------------------------------------------------------------------------------ Redis

export interface PrivateRedis {
  url: string;
  port: number;
  flushAll(): Promise<void>;
  /** Shuts the server down (no save: its data is lost), waits, starts it again on the same port. */
  restart(downMs: number): Promise<void>;
}

export async function startPrivateRedis(cleanup: Cleanup): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = await tempDir(cleanup, 'redis');
  const pidfile = join(dir, 'redis.pid');
  const cli = (...args: string[]) => exec('redis-cli', ['-p', String(port), ...args]);
  const start = async () => {
    await exec('redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'yes',
      '--pidfile',
      pidfile,
      '--dir',
      dir,
      '--maxmemory-policy',
      'noeviction',
    ]);
    for (let i = 0; i < 100; i++) {
      if (
        (await cli('ping').then(
          (r) => r.stdout.trim(),
          () => '',
        )) === 'PONG'
      )
        return;
      await sleep(50);
    }
    throw new Error(`private redis on ${port} did not start`);
  };
  const stop = async () => {
    await cli('shutdown', 'nosave').catch(() => undefined);
    for (let i = 0; i < 100 && existsSync(pidfile); i++) await sleep(50);
  };
  await start();
  cleanup.add(`redis ${port}`, stop);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async flushAll() {
      await cli('flushall');
    },
    async restart(downMs) {
      await stop();
      await sleep(downMs);
      await start();
    },
  };
}

// ------------------------------------------------------------------------------------ PostgreSQL

export interface PrivatePostgres {
  port: number;
  urlFor(database: string): string;
  createDatabase(name: string): Promise<string>;
  /** Immediate stop (a crash: no checkpoint), down for downMs, start again. */
  restart(downMs: number): Promise<void>;
}

export async function startPrivatePostgres(cleanup: Cleanup): Promise<PrivatePostgres> {
  const port = await freePort();
  const dir = await tempDir(cleanup, 'pg');
  const data = join(dir, 'data');
  chownSync(dir, uidOf('postgres'), gidOf('postgres'));
  const asPostgres = (bin: string, args: string[]) =>
    exec('runuser', ['-u', 'postgres', '--', join(PG_BIN, bin), ...args], { maxBuffer: 10 * 1024 * 1024 });
  await asPostgres('initdb', ['-D', data, '--auth=trust', '-U', 'postgres', '--encoding=UTF8', '--no-sync']);
  const pgCtl = (action: string, extra: string[] = []) =>
    asPostgres('pg_ctl', [
      '-D',
      data,
      '-l',
      join(dir, 'postgres.log'),
      '-w',
      '-t',
      '60',
      '-o',
      `-p ${port} -k /tmp -h 127.0.0.1 -c fsync=on -c max_connections=200`,
      ...extra,
      action,
    ]);
  await pgCtl('start');
  cleanup.add(`postgres ${port}`, async () => {
    await pgCtl('stop', ['-m', 'immediate']).catch(() => undefined);
  });
  const urlFor = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    port,
    urlFor,
    async createDatabase(name) {
      await asPostgres('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', name]);
      return urlFor(name);
    },
    async restart(downMs) {
      await pgCtl('stop', ['-m', 'immediate']);
      await sleep(downMs);
      await pgCtl('start');
    },
  };
}

function uidOf(user: string): number {
  return Number(idOutput(['-u', user]));
}
function gidOf(user: string): number {
  return Number(idOutput(['-g', user]));
}
function idOutput(args: string[]): string {
  return execFileSync('id', args).toString().trim();
}

// ------------------------------------------------------------------------------------ processes

export interface NodeProcess {
  name: string;
  child: ChildProcess;
  output: string[];
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** node --import tsx <main> (one process: a SIGKILL leaves no orphan), logs kept for failures. */
export async function spawnService(
  cleanup: Cleanup,
  name: string,
  main: string,
  env: Record<string, string>,
  readyUrl?: string,
): Promise<NodeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, main)], {
    cwd: REPO_ROOT,
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (d: Buffer) => {
    output.push(d.toString());
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const proc: NodeProcess = {
    name,
    child,
    output,
    async kill(signal) {
      if (alive()) child.kill(signal);
      await exited;
    },
  };
  cleanup.add(`${name} pid ${child.pid}`, async () => {
    if (!alive()) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });
  if (readyUrl) {
    // tsx compiles the service on start: minutes when the shared 2-core machine is at load 20.
    const deadline = Date.now() + 240_000;
    for (;;) {
      if (!alive()) throw new Error(`${name} exited during start-up: ${output.join('').slice(-2000)}`);
      const ok = await fetch(readyUrl).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`${name} not ready: ${output.join('').slice(-2000)}`);
      await sleep(200);
    }
  }
  return proc;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `pnpm ridetally …` without pnpm: node --import tsx services/cli/src/main.ts. */
export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'services/cli/src/main.ts'), ...args],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, LOG_LEVEL: 'warn', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function runCliOk(args: string[], env: Record<string, string>): Promise<CliResult> {
  const result = await runCli(args, env);
  if (result.code !== 0)
    throw new Error(
      `ridetally ${args[0]} exited ${result.code}: ${(result.stderr + result.stdout).slice(-2000)}`,
    );
  return result;
}
