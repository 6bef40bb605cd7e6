/**
 * The reward service's HTTP surface. `createRewardRouter(deps)` is mountable at the root of any
 * express app (the platform mounts it); `createRewardApp(deps)` wraps it with the shared plumbing.
 * Order for every request: session → role check → zod parse → handler, so a caller without the
 * role learns nothing about the input's validity.
 */
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { createServiceApp, parseWith, AppError } from '@ridetally/http';
import { pingDatabase, type ActiveSession } from '@ridetally/db';
import type { ZodType } from 'zod';
import { authenticate } from './auth/auth.service';
import { toContext, type RewardContext, type RewardDeps } from './deps';
import { buildOpenApiDocument } from './openapi';
import { isAllowed } from './roles';
import type { AnyEndpoint, Reply } from './routes/endpoint';
import { assertUniqueEndpoints, ENDPOINTS } from './routes/endpoints';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      staffSession?: ActiveSession;
    }
  }
}

export const SESSION_COOKIE = 'rt_staff';

function tokenOf(req: Request): string | undefined {
  const auth = req.get('authorization');
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const cookie = req.get('cookie');
  if (!cookie) return undefined;
  for (const part of cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === SESSION_COOKIE) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

function contentDisposition(filename: string, inline: boolean): string {
  return `${inline ? 'inline' : 'attachment'}; filename="${filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`;
}

async function send(res: Response, reply: Reply): Promise<void> {
  switch (reply.kind) {
    case 'json':
      res.status(reply.status ?? 200).json(reply.body);
      return;
    case 'html':
      res.type('html').setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
      res.send(reply.body);
      return;
    case 'file':
      res.setHeader('Content-Type', reply.file.contentType);
      res.setHeader('Content-Disposition', contentDisposition(reply.file.filename, reply.inline ?? false));
      res.setHeader('Cache-Control', 'no-store');
      res.send(reply.file.body);
      return;
    case 'stream': {
      let started = false;
      await reply.write(async (chunk) => {
        if (!started) {
          res.setHeader('Content-Type', reply.contentType);
          res.setHeader('Content-Disposition', contentDisposition(reply.filename, false));
          res.setHeader('Cache-Control', 'no-store');
          started = true;
        }
        if (!res.write(chunk)) await new Promise<void>((resolve) => res.once('drain', () => resolve()));
      });
      res.end();
      return;
    }
  }
}

function handlerFor(ctx: RewardContext, e: AnyEndpoint): RequestHandler {
  return async (req, res) => {
    const token = tokenOf(req);
    let session: ActiveSession | undefined;
    if (e.access !== 'public') {
      session = token ? await authenticate(ctx, token) : undefined;
      if (!session) throw new AppError('unauthorized', 'log in first');
      if (!isAllowed(e.access, session.roles)) throw new AppError('forbidden', `this needs one of the roles: ${Array.isArray(e.access) ? e.access.join(', ') : String(e.access)}`);
      req.staffSession = session;
    }
    const input = {
      params: e.params ? parseWith(e.params as ZodType<unknown>, req.params, 'path') : undefined,
      query: e.query ? parseWith(e.query as ZodType<unknown>, req.query, 'query') : undefined,
      body: e.body ? parseWith(e.body as ZodType<unknown>, req.body ?? {}, 'body') : undefined,
      ctx,
      actor: session ? { userId: session.userId, username: session.username, roles: session.roles } : { userId: '-', username: 'anonymous', roles: [] },
      token,
      req,
    };
    const reply = await e.handler(input);
    if (e.operationId === 'login' && reply.kind === 'json') {
      const body = reply.body as { token: string; expiresAt: string };
      res.cookie(SESSION_COOKIE, body.token, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/', expires: new Date(body.expiresAt) });
    }
    if (e.operationId === 'logout') res.clearCookie(SESSION_COOKIE, { path: '/' });
    await send(res, reply);
  };
}

/**
 * The staff API router: every endpoint of ENDPOINTS plus GET /api/openapi.json, under /api and
 * /public/notices. A host app that mounts it must put `requestContext` before it and the shared
 * `errorHandler()` after it (as createRewardApp does): handlers throw AppError and rely on it.
 */
export function createRewardRouter(deps: RewardDeps, endpoints: readonly AnyEndpoint[] = ENDPOINTS): Router {
  assertUniqueEndpoints(endpoints);
  const ctx = toContext(deps);
  const router = Router();
  const document = buildOpenApiDocument(endpoints);
  router.get('/api/openapi.json', (_req, res) => {
    res.json(document);
  });
  const jsonBody = express.json({ limit: '256kb' });
  for (const e of endpoints) {
    router[e.method](e.path, jsonBody, handlerFor(ctx, e));
  }
  return router;
}

/** A standalone app: request ids, security headers, the router, 404 and the one error handler. */
export function createRewardApp(deps: RewardDeps): express.Express {
  return createServiceApp({ logger: deps.logger, isReady: () => pingDatabase(deps.db) }, (app) => {
    app.use(createRewardRouter(deps));
  });
}
