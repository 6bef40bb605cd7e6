/**
 * One table describes every endpoint: method, path, who may call it, its zod schemas and handler.
 * The router, the OpenAPI document and the role-matrix test are all generated from it, so they
 * cannot disagree.
 */
import type { Request } from 'express';
import type { ZodType } from 'zod';
import type { Actor } from '../audit.service';
import type { RewardContext } from '../deps';
import type { ExportFile } from '../exports/tabular';
import type { Access } from '../roles';

export type Reply =
  | { kind: 'json'; status?: number; body: unknown }
  | { kind: 'file'; file: ExportFile; inline?: boolean }
  | { kind: 'html'; body: string }
  | { kind: 'stream'; filename: string; contentType: string; write: (push: (chunk: string) => Promise<void>) => Promise<unknown> };

export type ResponseSpec = { kind: 'json'; schema: ZodType; status?: number } | { kind: 'file'; contentTypes: readonly string[] } | { kind: 'html' };

export interface HandlerInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  ctx: RewardContext;
  /** The logged-in staff member; a placeholder 'anonymous' actor on public endpoints. */
  actor: Actor;
  /** The session token (for logout). */
  token: string | undefined;
  req: Request;
}

export interface Endpoint<P = unknown, Q = unknown, B = unknown> {
  operationId: string;
  method: 'get' | 'post' | 'put';
  /** Express path, e.g. /api/snapshots/:id */
  path: string;
  access: Access;
  summary: string;
  tag: string;
  params?: ZodType<P>;
  query?: ZodType<Q>;
  body?: ZodType<B>;
  response: ResponseSpec;
  handler: (input: HandlerInput<P, Q, B>) => Promise<Reply>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyEndpoint = Endpoint<any, any, any>;

/** Declares an endpoint with its types inferred from its schemas. */
export function endpoint<P = undefined, Q = undefined, B = undefined>(e: Endpoint<P, Q, B>): AnyEndpoint {
  return e as AnyEndpoint;
}

export const json = (body: unknown, status?: number): Reply => ({ kind: 'json', body, ...(status ? { status } : {}) });
