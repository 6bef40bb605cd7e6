/**
 * HTTP plumbing shared by the services: one AppError with a code → status table, one error
 * middleware that shapes every error as `{ error: { code, message, details } }`, request ids.
 */
import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from '@ridetally/telemetry';
import { ZodError, type ZodType } from 'zod';

export const ERROR_STATUS = {
  bad_request: 400,
  validation_failed: 400,
  malformed_json: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Extra response headers (Retry-After) and body fields (serverTime). */
    readonly extra?: { headers?: Record<string, string>; body?: Record<string, unknown> },
  ) {
    super(message);
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** Parses with a zod schema; a failure is a 400 listing each problem by path. */
export function parseWith<T>(schema: ZodType<T>, value: unknown, what = 'request'): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new AppError('validation_failed', `${what} is invalid`, zodProblems(r.error));
}

export function zodProblems(error: ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      id: string;
      log: Logger;
    }
  }
}

/** Gives each request an id (kept from X-Request-Id when sane), a child logger and an access log line. */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    req.id = incoming && /^[A-Za-z0-9._-]{1,64}$/.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', req.id);
    req.log = logger.child({ reqId: req.id });
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      req.log.debug({ method: req.method, path: req.path, status: res.statusCode, ms }, 'request');
    });
    next();
  };
}

/** Errors thrown by express's body parsers, mapped to our codes. */
function fromBodyParser(err: unknown): AppError | undefined {
  if (typeof err !== 'object' || err === null || !('type' in err)) return undefined;
  const type = (err).type;
  if (type === 'entity.too.large') return new AppError('payload_too_large', 'request body is too large');
  if (type === 'entity.parse.failed') return new AppError('malformed_json', 'request body is not valid JSON');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported')
    return new AppError('unsupported_media_type', 'unsupported body encoding');
  if (type === 'request.aborted') return new AppError('bad_request', 'request aborted');
  return undefined;
}

/** The router's failure to percent-decode a path parameter (`/x/%D8%00`): the client's fault. */
function fromRouter(err: unknown): AppError | undefined {
  return err instanceof URIError ? new AppError('bad_request', 'malformed percent-encoding in the path') : undefined;
}

/** The one error middleware: AppError → its status; anything else → 500 without internals. */
export function errorHandler(): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const app = err instanceof AppError ? err : err instanceof ZodError ? new AppError('validation_failed', 'request is invalid', zodProblems(err)) : (fromBodyParser(err) ?? fromRouter(err));
    if (!app) {
      req.log?.error({ err: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err) }, 'unhandled error');
    }
    const e = app ?? new AppError('internal', 'internal error');
    if (res.headersSent) return;
    for (const [k, v] of Object.entries(e.extra?.headers ?? {})) res.setHeader(k, v);
    res.status(e.status).json({
      error: { code: e.code, message: e.message, ...(e.details !== undefined ? { details: e.details } : {}) },
      ...(e.extra?.body ?? {}),
    });
  };
}

/** 404 for anything no route matched, in the same error shape. */
export function notFound(): RequestHandler {
  return (req, _res, next) => next(new AppError('not_found', `no route for ${req.method} ${req.path}`));
}

/** Standard security headers for API and console responses. */
export function securityHeaders(): RequestHandler {
  return (_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    next();
  };
}

export interface ServiceAppOptions {
  logger: Logger;
  /** Readiness: answers /readyz (503 when false), e.g. the database answers a trivial query. */
  isReady: () => Promise<boolean>;
  /** A prom-client registry to serve at /metrics (omitted: no /metrics). */
  metrics?: { contentType: string; metrics(): Promise<string> };
}

/**
 * The plumbing every HTTP service shares: request ids, security headers, /healthz, /readyz,
 * optional /metrics, then the service's own routes (`mount`), 404 and the one error handler.
 */
export function createServiceApp(options: ServiceAppOptions, mount: (app: express.Express) => void): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestContext(options.logger));
  app.use(securityHeaders());
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ok = await options.isReady();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'database unavailable' });
  });
  const registry = options.metrics;
  if (registry) {
    app.get('/metrics', async (_req, res) => {
      res.setHeader('Content-Type', registry.contentType);
      res.send(await registry.metrics());
    });
  }
  mount(app);
  app.use(notFound());
  app.use(errorHandler());
  return app;
}

export { createMemoryRateLimiter, unlimitedRateLimiter, type MemoryRateLimiter, type RateDecision, type RateLimiter } from './rate-limiter';
export { createRedisRateLimiter, type RedisRateLimiter, type RedisRateLimiterOptions } from './redis-rate-limiter';
