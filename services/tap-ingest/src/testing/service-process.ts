/** Runs the real service (src/main.ts) as a child process, for crash tests and the benchmark. */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '@ridetally/db/testing';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const SERVICE_MAIN = join(here, '..', 'main.ts');
export const REPO_ROOT = join(here, '..', '..', '..', '..');


export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  /** stderr and stdout lines (logs), for assertions. */
  output: string[];
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startServiceProcess(
  env: Record<string, string>,
  { readyTimeoutMs = 30_000, nodeArgs = [] as string[] } = {},
): Promise<ServiceProcess> {
  const port = Number(env.PORT ?? (await freePort()));
  // One process (node with the tsx loader), not the tsx CLI: that one forks a child a SIGKILL would orphan.
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', SERVICE_MAIN], {
    cwd: REPO_ROOT,
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`service exited during start-up: ${output.join('')}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`service not ready after ${readyTimeoutMs} ms: ${output.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    url,
    output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
