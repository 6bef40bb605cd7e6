/**
 * Serves the staff console: index.html, the stylesheet, the browser modules (TypeScript in web/,
 * compiled per file by esbuild's transform on first request and cached — there is no bundler in the
 * `pnpm start` path) and ECharts from its npm dist file (no CDN: the console works offline).
 */
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';
import { Router, type Response } from 'express';

const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'web');
const ECHARTS_FILE = createRequire(import.meta.url).resolve('echarts/dist/echarts.min.js');

/** The console's own origin only; ECharts sets inline styles on its canvas container. */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

export interface ConsoleRouterOptions {
  /** Where the console lives; default `/console`. */
  basePath?: string;
  /** Redirect `/` to the console (the all-in-one process); default true. */
  redirectRoot?: boolean;
}

interface Compiled {
  mtimeMs: number;
  code: string;
}

/** A browser module path below /app/: lowercase kebab-case segments ending in .js, never a test. */
const MODULE_PATH = /^(?:[a-z0-9-]+\/)*[a-z0-9-]+(?:\.[a-z0-9-]+)*\.js$/;

/**
 * An express router serving the console at `basePath` (and redirecting `/` there). Mount it at the
 * application's root: `app.use(createConsoleRouter())`.
 */
export function createConsoleRouter(options: ConsoleRouterOptions = {}): Router {
  const base = (options.basePath ?? '/console').replace(/\/+$/, '');
  // strict: `/console` (redirected) and `/console/` (the page) are different paths
  const router = Router({ strict: true });
  const cache = new Map<string, Compiled>();

  const send = (res: Response, type: string, body: string | Buffer, cacheControl = 'no-cache'): void => {
    res.setHeader('Content-Type', type);
    res.setHeader('Cache-Control', cacheControl);
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.send(body);
  };

  if (options.redirectRoot ?? true) router.get('/', (_req, res) => res.redirect(302, `${base}/`));
  router.get(base, (_req, res) => res.redirect(301, `${base}/`));

  router.get(`${base}/`, async (_req, res) => {
    send(res, 'text/html; charset=utf-8', await readFile(join(WEB_DIR, 'index.html')));
  });
  router.get(`${base}/styles.css`, async (_req, res) => {
    send(res, 'text/css; charset=utf-8', await readFile(join(WEB_DIR, 'styles.css')));
  });
  router.get(`${base}/vendor/echarts.min.js`, async (_req, res) => {
    send(res, 'text/javascript; charset=utf-8', await readFile(ECHARTS_FILE), 'public, max-age=86400');
  });

  router.get(`${base}/app/*path`, async (req, res, next) => {
    const raw = (req.params as { path?: string[] | string }).path;
    const rel = Array.isArray(raw) ? raw.join('/') : (raw ?? '');
    if (!MODULE_PATH.test(rel) || rel.endsWith('.test.js')) return next();
    const file = resolve(WEB_DIR, rel.replace(/\.js$/, '.ts'));
    if (!file.startsWith(WEB_DIR + sep)) return next();
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(file)).mtimeMs;
    } catch {
      return next();
    }
    let compiled = cache.get(file);
    if (!compiled || compiled.mtimeMs !== mtimeMs) {
      const source = await readFile(file, 'utf8');
      const out = await transform(source, { loader: 'ts', format: 'esm', target: 'es2022', sourcemap: 'inline', sourcefile: `console/${rel.replace(/\.js$/, '.ts')}` });
      compiled = { mtimeMs, code: out.code };
      cache.set(file, compiled);
    }
    send(res, 'text/javascript; charset=utf-8', compiled.code);
  });

  return router;
}
