/**
 * `pnpm start` on a new data folder seeds the demo city (issue 7): a child process as a user runs
 * it, waited on until the seed reports done; then every demo login, live rankings of a demo quarter,
 * the volume the dashboard charts and the console page. (`/api/console/dashboard` is not mounted
 * in the reward router yet, so it is not checked here.) Fewer days than the real demo (`--demo-days`) keep it
 * short; the code path is the same.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_USERS, demoPeriod, quartersOf } from './demo-seed';
import { interrupt, startPlatform, waitForOutput } from './testing/platform-process';

async function login(url: string, username: string, password: string): Promise<{ status: number; token?: string; roles?: string[] }> {
  const res = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (res.status !== 200) return { status: res.status };
  const body = (await res.json()) as { token: string; roles: string[] };
  return { status: res.status, token: body.token, roles: body.roles };
}

async function getJson<T>(url: string, token: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as T };
}

describe('the demo period', () => {
  it('runs from the previous quarter\'s first day to yesterday, in Shanghai', () => {
    expect(demoPeriod(new Date('2026-11-29T03:00:00Z'))).toEqual({ start: '2026-07-01', days: 151 });
    // 2026-10-01 00:30 in Shanghai is still 09-30 in UTC: the quarter has turned.
    expect(demoPeriod(new Date('2026-09-30T16:30:00Z'))).toEqual({ start: '2026-07-01', days: 92 });
    expect(demoPeriod(new Date('2026-09-30T15:30:00Z'))).toEqual({ start: '2026-04-01', days: 182 });
    expect(demoPeriod(new Date('2027-02-10T12:00:00Z'))).toEqual({ start: '2026-10-01', days: 132 });
    expect(quartersOf('2026-07-01', 151)).toEqual(['2026-Q3', '2026-Q4']);
    expect(quartersOf('2026-07-01', 92)).toEqual(['2026-Q3']);
  });
});

describe('pnpm start seeds the demo city', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'rt-demo-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('imports, drives and counts a city, creates a login per role, and prints the console and logins', async () => {
    const started = await startPlatform(dataDir, ['--demo-days', '7']);
    try {
      await waitForOutput(started, 'demo city seeded', 150_000);
      const stdout = started.stdout.join('');
      expect(stdout).toContain(`${started.url.replace('127.0.0.1', 'localhost')}/console/`);
      for (const u of DEMO_USERS) expect(stdout).toContain(u.username);
      const state = JSON.parse(readFileSync(join(dataDir, 'demo', 'state.json'), 'utf8')) as { status: string; start: string };
      expect(state.status).toBe('seeded');
      expect(state.start).toBe(demoPeriod(new Date()).start);

      const tokens = new Map<string, string>();
      for (const u of DEMO_USERS) {
        const r = await login(started.url, u.username, u.password);
        expect(r.status, u.username).toBe(200);
        expect(r.roles).toEqual([u.role]);
        tokens.set(u.role, r.token!);
        expect((await login(started.url, u.username, 'not-the-password')).status).toBe(401);
      }

      // The first demo quarter: counted by the in-process aggregator while the seed ran.
      const quarter = `${state.start.slice(0, 4)}-Q${Math.floor(Number(state.start.slice(5, 7)) / 3) + 1}`;
      const ranking = await getJson<{ rows: { rides: number; nameMasked: string }[]; totals: { persons: number; rides: number } }>(
        `${started.url}/api/rankings?period=${quarter}`,
        tokens.get('office')!,
      );
      expect(ranking.status).toBe(200);
      expect(ranking.body.rows.length).toBeGreaterThan(0);
      expect(ranking.body.totals.rides).toBeGreaterThan(0);
      expect(ranking.body.rows[0]!.nameMasked).toContain('*');

      const year = Number(state.start.slice(0, 4));
      const volume = await getJson<{ boardings: number; target: number | null; monthly: { boardings: number }[] }>(
        `${started.url}/api/assessment/${year}/volume`,
        tokens.get('office')!,
      );
      expect(volume.status).toBe(200);
      expect(volume.body.boardings).toBeGreaterThan(0);
      expect(volume.body.target).toBeGreaterThan(0);
      // The dashboard's year chart: boardings per month of the demo year.
      expect(volume.body.monthly.some((m) => m.boardings > 0)).toBe(true);

      const consolePage = await fetch(`${started.url}/console/`);
      expect(consolePage.status).toBe(200);
      expect(await consolePage.text()).toContain('<html');
    } finally {
      expect(await interrupt(started)).toBe(0);
    }

    // Seeded once: a restart does not seed again.
    const again = await startPlatform(dataDir);
    try {
      expect(again.output.join('')).not.toContain('demo city will be seeded');
      expect(again.output.join('')).not.toContain('interrupted demo seed');
    } finally {
      expect(await interrupt(again)).toBe(0);
    }
  }, 240_000);
});
