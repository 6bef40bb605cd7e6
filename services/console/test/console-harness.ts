/**
 * End-to-end harness: a fresh PostgreSQL database, the reward service's staff API and the console
 * on one express app (as the platform mounts them), an injected clock, staff users per role, a few
 * persons with counts, and Debian's chromium driven by playwright-core.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { maskName } from '@ridetally/domain';
import { errorHandler, notFound, requestContext, securityHeaders } from '@ridetally/http';
import { createKeyring, type Keyring } from '@ridetally/keyring';
import { createRewardRouter, createStaffUser, ENDPOINTS, toContext, type AnyEndpoint, type Role } from '@ridetally/reward';
import { createLogger } from '@ridetally/telemetry';
import { CONSOLE_ENDPOINTS } from '../../reward/src/routes/console-endpoints';
import { createConsoleRouter } from '../src';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test-results/screenshots');

export interface Staff {
  username: string;
  password: string;
  roles: Role[];
}

/** The fields the tests read from API answers; anything else stays unknown. */
export interface ApiBody {
  snapshotId?: string;
  status?: string;
  [key: string]: unknown;
}

export interface ConsoleHarness {
  url: string;
  db: TestDatabase;
  keyring: Keyring;
  clock: { now: Date; set(iso: string): void };
  /** Undefined when started with `browser: false`. */
  browser: Browser | undefined;
  staff: Record<'operator' | 'office' | 'eco' | 'assessor' | 'auditor' | 'admin', Staff>;
  /** A JSON call to the staff API as a user (logs in on first use per clock epoch). */
  api<T = ApiBody>(user: Staff, method: string, path: string, body?: unknown): Promise<{ status: number; json: T }>;
  /** A fresh browser page (own session storage) signed in as the user. */
  signedIn(user: Staff, viewport?: { width: number; height: number }): Promise<Page>;
  screenshot(page: Page, name: string): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Start chromium (default true); API-only tests skip it. */
  browser?: boolean;
  /** Endpoints added to the reward service's table (deduplicated by operationId); default: the console's. */
  extraEndpoints?: readonly AnyEndpoint[];
}

export async function startConsoleHarness(startAt: string, opts: HarnessOptions = {}): Promise<ConsoleHarness> {
  const db = await createTestDatabase(4);
  const keyring = createKeyring({ current: randomBytes(32) });
  const clock = {
    now: new Date(startAt),
    set(iso: string) {
      this.now = new Date(iso);
    },
  };
  const logger = createLogger({ level: 'silent', service: 'console-e2e' });
  const deps = { db: db.db, keyring, logger, clock: () => clock.now, scryptCost: 2 ** 10 };

  const app = express();
  app.disable('x-powered-by');
  app.use(requestContext(logger));
  app.use(securityHeaders());
  const known = new Set(ENDPOINTS.map((e) => e.operationId));
  // the console's endpoints until the reward service mounts them itself (then the filter drops them)
  const extra = (opts.extraEndpoints ?? CONSOLE_ENDPOINTS).filter((e) => !known.has(e.operationId));
  app.use(createRewardRouter(deps, [...ENDPOINTS, ...extra]));
  app.use(createConsoleRouter());
  app.use(notFound());
  app.use(errorHandler());
  const server: Server = await new Promise((ok) => {
    const s = app.listen(0, '127.0.0.1', () => ok(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const ctx = toContext(deps);
  const make = async (username: string, roles: Role[]): Promise<Staff> => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    await createStaffUser(ctx, 'e2e-setup', { username, roles, password, displayName: null });
    return { username, password, roles };
  };
  const staff = {
    operator: await make('op.wang', ['operator']),
    office: await make('office.li', ['office']),
    eco: await make('eco.zhao', ['eco_bureau']),
    assessor: await make('assess.chen', ['assessor']),
    auditor: await make('audit.sun', ['auditor']),
    admin: await make('admin.zhou', ['admin']),
  };

  const tokens = new Map<string, string>();
  const call = async (token: string | undefined, method: string, path: string, body?: unknown) => {
    const res = await fetch(url + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json };
  };
  const tokenFor = async (user: Staff): Promise<string> => {
    const key = `${user.username}@${clock.now.toISOString()}`;
    let token = tokens.get(key);
    if (!token) {
      const r = await call(undefined, 'POST', '/api/auth/login', { username: user.username, password: user.password });
      if (r.status !== 200) throw new Error(`login of ${user.username} failed: ${r.status}`);
      token = (r.json as { token: string }).token;
      tokens.set(key, token);
    }
    return token;
  };

  const browser: Browser | undefined = opts.browser === false ? undefined : await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--lang=zh-CN'],
  });
  mkdirSync(SCREENSHOT_DIR, { recursive: true });

  const harness: ConsoleHarness = {
    url,
    db,
    keyring,
    clock,
    browser,
    staff,
    api: async <T = ApiBody>(user: Staff, method: string, path: string, body?: unknown) => {
      const r = await call(await tokenFor(user), method, path, body);
      return { status: r.status, json: r.json as T };
    },
    async signedIn(user, viewport = { width: 1280, height: 800 }) {
      if (!browser) throw new Error('this harness was started without a browser');
      const context = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Europe/London', acceptDownloads: true });
      // the browser's calendar is the server's injected one (default dates, notice-end checks)
      await context.clock.setFixedTime(clock.now);
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      (page as Page & { problems?: string[] }).problems = problems;
      await page.goto(`${url}/`);
      await page.waitForSelector('[data-testid=username]');
      await page.fill('[data-testid=username]', user.username);
      await page.fill('[data-testid=password]', user.password);
      await page.click('[data-testid=signin-submit]');
      await page.waitForSelector('[data-testid=current-user]');
      return page;
    },
    async screenshot(page, name) {
      await page.screenshot({ path: resolve(SCREENSHOT_DIR, `${name}.png`), fullPage: false });
    },
    async close() {
      await browser?.close();
      await new Promise<void>((ok) => server.close(() => ok()));
      await db.drop();
    },
  };
  return harness;
}

/** Persons employed by one city-area agency, with their counts in a period (as the aggregator writes them). */
export async function seedCounts(h: ConsoleHarness, period: string, people: { name: string; rides: number }[], employer = { code: 'E001', name: '吕梁市交通运输局' }): Promise<string[]> {
  await h.db.db.insertInto('employers').values({ code: employer.code, name: employer.name, type: 'agency', city_area: true }).onConflict((oc) => oc.column('code').doNothing()).execute();
  const ids: string[] = [];
  for (const [i, p] of people.entries()) {
    const idNumber = `14110219800101${String(1000 + ids.length + Math.floor(Math.random() * 8000)).padStart(4, '0')}`;
    const [row] = await h.db.db
      .insertInto('persons')
      .values({ id_hash: h.keyring.hashIdNumber(`${idNumber}-${randomBytes(4).toString('hex')}`), id_ciphertext: h.keyring.encrypt('pii', idNumber), name_ciphertext: h.keyring.encrypt('pii', p.name), name_masked: maskName(p.name) })
      .returning('person_id')
      .execute();
    const personId = row!.person_id;
    await h.db.db.insertInto('employments').values({ person_id: personId, employer_code: employer.code, in_service: '[2022-01-01,)' }).execute();
    await h.db.db
      .insertInto('person_period_counts')
      .values({ person_id: personId, period, rides: p.rides, last_counted_at: `${period.slice(0, 4)}-09-0${(i % 9) + 1}T08:00:00+08:00`, rules_version: `${period.slice(0, 4)}.default` })
      .execute();
    ids.push(personId);
  }
  return ids;
}
