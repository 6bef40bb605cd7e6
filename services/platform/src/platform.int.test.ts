/**
 * `pnpm start` as a user runs it: a child process on a new embedded data folder, no PostgreSQL or
 * Redis configured. Checks the endpoints, a clean Ctrl-C, and that a restart keeps the data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { interrupt, startPlatform as start } from './testing/platform-process';

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
  }, 600_000);
});
