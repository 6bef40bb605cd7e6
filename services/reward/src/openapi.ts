/** The OpenAPI 3.1 document, generated from the endpoint table and its zod schemas. */
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { ZodObject, ZodType } from 'zod';
import type { AnyEndpoint } from './routes/endpoint';
import { ErrorSchema } from './schemas';

function openapiPath(path: string): string {
  return path.replace(/:([A-Za-z_]+)/g, '{$1}');
}

export function buildOpenApiDocument(endpoints: readonly AnyEndpoint[]): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'session token from POST /api/auth/login' });
  const errors = (codes: number[]) =>
    Object.fromEntries(codes.map((c) => [String(c), { description: 'error', content: { 'application/json': { schema: ErrorSchema } } }]));
  for (const e of endpoints) {
    const ok = e.response;
    const success =
      ok.kind === 'json'
        ? { [String(ok.status ?? 200)]: { description: 'ok', content: { 'application/json': { schema: ok.schema } } } }
        : ok.kind === 'html'
          ? { '200': { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' as const } } } } }
          : { '200': { description: 'file', content: Object.fromEntries(ok.contentTypes.map((t) => [t, { schema: { type: 'string' as const, format: 'binary' } }])) } };
    const roles = e.access === 'public' ? 'public' : e.access === 'any' ? 'any logged-in staff' : e.access.join(', ');
    registry.registerPath({
      method: e.method,
      path: openapiPath(e.path),
      operationId: e.operationId,
      summary: e.summary,
      description: `Roles: ${roles}.`,
      tags: [e.tag],
      ...(e.access === 'public' ? {} : { security: [{ bearer: [] }] }),
      request: {
        ...(e.params ? { params: e.params as ZodObject } : {}),
        ...(e.query ? { query: e.query as ZodObject } : {}),
        ...(e.body ? { body: { content: { 'application/json': { schema: e.body as ZodType } } } } : {}),
      },
      responses: { ...success, ...errors(e.access === 'public' ? [400, 404] : [400, 401, 403, 404, 409]) },
    });
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'ridetally staff API (reward service)', version: '1.0.0', description: 'Rankings, award lists, review workflow, notices, exports and operator scoring (SPEC §1, R7-R17, §5).' },
    servers: [{ url: '/' }],
  });
}
