/** The rider app API's OpenAPI 3.1 document, generated from the schemas the handlers use. */
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { z } from 'zod';
import {
  BindingSchema,
  BindMediumSchema,
  ErrorSchema,
  PersonIdParamsSchema,
  PersonRegisteredSchema,
  RateRideSchema,
  RatingSchema,
  RegisterPersonSchema,
  RidesQuerySchema,
  RidesResponseSchema,
  TapIdParamsSchema,
  UnbindParamsSchema,
  UnbindQuerySchema,
} from './schemas';

type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(ErrorSchema, description);

export function buildRiderOpenApi(): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'clientToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'Integration client token (`pnpm ridetally client add --name <n>`)',
  });
  const security = [{ [bearer.name]: [] }];
  const common = {
    400: error('Invalid request'),
    401: error('Missing or unknown client token'),
    429: {
      ...error("Over this client's rate limit (RIDER_CLIENT_RATE_PER_S); error code rate_limited"),
      headers: { 'Retry-After': { description: 'Seconds until a request would be allowed', schema: { type: 'integer' as const, minimum: 1 } } },
    },
  };

  registry.registerPath({
    method: 'post',
    path: '/v1/persons',
    summary: 'Register a real-name person (idempotent on the ID number)',
    security,
    request: { body: { content: { 'application/json': { schema: RegisterPersonSchema } } } },
    responses: {
      201: json(PersonRegisteredSchema, 'Registered'),
      200: json(PersonRegisteredSchema, 'Already registered (name/phone updated when they differ)'),
      ...common,
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/persons/{personId}/media',
    summary: 'Bind a medium to the person over a validity interval',
    security,
    request: { params: PersonIdParamsSchema, body: { content: { 'application/json': { schema: BindMediumSchema } } } },
    responses: {
      201: json(BindingSchema, 'Bound'),
      ...common,
      404: error('No such person'),
      409: error('The medium is bound (to anyone) over part of that interval'),
      422: error('An ID card of someone else'),
    },
  });
  registry.registerPath({
    method: 'delete',
    path: '/v1/persons/{personId}/media/{type}/{id}',
    summary: 'Unbind a medium from now or from a date (a lost card); earlier taps stay the person’s',
    security,
    request: { params: UnbindParamsSchema, query: UnbindQuerySchema },
    responses: { 200: json(BindingSchema, 'The ended binding'), ...common, 404: error('Not bound to this person at that time') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/persons/{personId}/rides',
    summary: 'The person’s rides (taps grouped per R4) with rating state and deadline',
    security,
    request: { params: PersonIdParamsSchema, query: RidesQuerySchema },
    responses: { 200: json(RidesResponseSchema, 'Rides in time order'), ...common, 404: error('No such person') },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/rides/{tapId}/rating',
    summary: 'Rate a ride (named by any of its taps); one rating per ride',
    security,
    request: { params: TapIdParamsSchema, body: { content: { 'application/json': { schema: RateRideSchema } } } },
    responses: {
      201: json(RatingSchema, 'Rating stored'),
      ...common,
      404: error('No such person or tap'),
      409: error('The ride is already rated; the first rating stands'),
      422: error('Not the person’s tap, rating window over, ratedAt in the future or before the ride'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/openapi.json',
    summary: 'This document',
    responses: { 200: { description: 'OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object' } } } } },
  });

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'ridetally rider app API',
      version: '1.0.0',
      description: 'For the 掌上公交 app backend: real-name registration, media bindings, rides and ratings (SPEC §4).',
    },
    servers: [{ url: '/' }],
  });
}
