import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleRouter } from './console.routes';

let server: Server;
let base: string;

beforeAll(async () => {
  const app = express();
  app.use(createConsoleRouter());
  app.use((_req, res) => res.status(404).json({ error: { code: 'not_found', message: 'no route' } }));
  server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('console router', () => {
  it('redirects / and /console to /console/', async () => {
    const root = await fetch(`${base}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/console/');
    const bare = await fetch(`${base}/console`, { redirect: 'manual' });
    expect(bare.headers.get('location')).toBe('/console/');
  });

  it('serves the page with a same-origin content security policy', async () => {
    const res = await fetch(`${base}/console/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    expect(html).toContain('lang="zh-CN"');
    expect(html).toContain('app/main.js');
  });

  it('compiles the browser TypeScript to JavaScript modules', async () => {
    const res = await fetch(`${base}/console/app/pages/dashboard.page.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    const [code = ''] = (await res.text()).split('//# sourceMappingURL=');
    expect(code).toContain('async function renderDashboard(');
    expect(code).toMatch(/export \{[^}]*renderDashboard/);
    expect(code).not.toMatch(/: PageContext/); // types are gone
  });

  it('serves ECharts from node_modules, not a CDN', async () => {
    const res = await fetch(`${base}/console/vendor/echarts.min.js`);
    expect(res.status).toBe(200);
    expect((await res.text()).length).toBeGreaterThan(500_000);
  });

  it('refuses paths outside the browser sources, tests and unknown files', async () => {
    for (const path of ['/console/app/../src/console.routes.js', '/console/app/%2e%2e/src/index.js', '/console/app/i18n.test.js', '/console/app/nope.js', '/console/app/Main.js', '/console/app/tsconfig.json']) {
      const res = await fetch(`${base}${path}`);
      expect([path, res.status]).toEqual([path, 404]);
    }
  });
});
