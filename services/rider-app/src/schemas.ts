/**
 * The rider app API's request and response schemas: the handlers parse with them and the OpenAPI
 * document is generated from them, so the two cannot drift apart.
 */
import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { MEDIA_TYPES } from '@ridetally/domain';
import { z } from 'zod';

extendZodWithOpenApi(z);

const DateOrInstantSchema = z
  .string()
  .max(40)
  .openapi({ description: 'A Shanghai calendar date (yyyy-MM-dd) or an ISO 8601 date-time with offset', example: '2022-05-01' });

export const ErrorSchema = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
  })
  .openapi('Error');

export const RegisterPersonSchema = z
  .object({
    idNumber: z.string().min(1).max(32).openapi({ description: '18-character resident ID number (GB 11643); stored only as keyed hash + ciphertext' }),
    name: z.string().trim().min(1).max(100).openapi({ description: 'Real name; stored encrypted' }),
    phone: z
      .string()
      .regex(/^\+?[0-9][0-9 -]{4,19}$/, 'phone must be 5-20 digits, optionally with + - or spaces')
      .optional()
      .openapi({ description: 'Mobile number; stored encrypted' }),
  })
  .strict()
  .openapi('RegisterPerson');
export type RegisterPerson = z.infer<typeof RegisterPersonSchema>;

export const PersonRegisteredSchema = z.object({ personId: z.uuid() }).openapi('PersonRegistered');

export const PersonIdParamsSchema = z.object({ personId: z.uuid().openapi({ param: { name: 'personId', in: 'path' } }) });

export const MediaTypeSchema = z.enum(MEDIA_TYPES).openapi('MediaType', {
  description: 'transit_card (kind: normal|senior|discount|teacher), ecard (kind: lvliang_union|alipay|cmcc_sim), qr (app account), id_card',
});

export const BindMediumSchema = z
  .object({
    type: MediaTypeSchema,
    id: z.string().min(1).max(64).openapi({
      description: 'Card, e-card or QR account id. For id_card: "self" (the person’s own ID card) or the ID number, which must be the person’s own',
    }),
    kind: z.string().min(1).max(32).optional().openapi({ description: 'Card kind of a transit_card or issuer of an ecard' }),
    validFrom: DateOrInstantSchema.optional().openapi({ description: 'Start: a date means 00:00 Asia/Shanghai that day; default now' }),
    validTo: DateOrInstantSchema.optional().openapi({ description: 'End: a date is inclusive (valid through that day), an instant exclusive; default open-ended' }),
  })
  .strict()
  .openapi('BindMedium');

export const BindingSchema = z
  .object({
    bindingId: z.number().int(),
    type: MediaTypeSchema,
    kind: z.string().nullable(),
    validFrom: z.string().openapi({ format: 'date-time' }),
    validTo: z.string().nullable().openapi({ format: 'date-time', description: 'Exclusive end; null = open-ended' }),
  })
  .openapi('Binding');

export const UnbindParamsSchema = z.object({
  personId: z.uuid().openapi({ param: { name: 'personId', in: 'path' } }),
  type: MediaTypeSchema.openapi({ param: { name: 'type', in: 'path' } }),
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'id', in: 'path', description: 'Card, e-card or QR account id; for id_card always "self" (ID numbers never go into URLs)' } }),
});

export const UnbindQuerySchema = z.object({
  validTo: DateOrInstantSchema.optional().openapi({
    param: { name: 'validTo', in: 'query', description: 'Unbind from: a date ends the binding after that day (inclusive), an instant at that instant; default now' },
  }),
});

const CalendarDateSchema = z.iso.date().openapi({ description: 'Shanghai calendar date', example: '2022-05-01' });

export const RidesQuerySchema = z.object({
  from: CalendarDateSchema.openapi({ param: { name: 'from', in: 'query', description: 'First date (inclusive, Asia/Shanghai)' } }),
  to: CalendarDateSchema.openapi({ param: { name: 'to', in: 'query', description: 'Last date (inclusive, Asia/Shanghai); at most 366 days after from' } }),
});

export const RideSchema = z
  .object({
    tapIds: z.array(z.number().int()).openapi({ description: 'The ride’s taps in tap-time order; any of them names the ride' }),
    tappedAt: z.string().openapi({ format: 'date-time', description: 'The first tap’s time (the ride’s time)' }),
    routeId: z.string(),
    vehicleId: z.string(),
    rated: z.boolean(),
    rateBy: z.string().openapi({ format: 'date-time', description: 'Last moment a rating (ratedAt) counts: ride time + 7 days' }),
  })
  .openapi('Ride');

export const RidesResponseSchema = z.object({ rides: z.array(RideSchema) }).openapi('Rides');

export const TapIdParamsSchema = z.object({
  tapId: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({ param: { name: 'tapId', in: 'path', description: 'Any tap of the ride' } }),
});

export const RateRideSchema = z
  .object({
    personId: z.uuid(),
    score: z.number().int().min(1).max(5).openapi({ description: '1-5; any score makes the ride count (R5)' }),
    comment: z.string().max(500).optional(),
    ratedAt: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: 'When the rider rated in the app; default the server time; not in the future (5 min skew), not before the ride, at most 7 days after it' }),
  })
  .strict()
  .openapi('RateRide');

export const RatingSchema = z
  .object({
    ratingId: z.number().int(),
    rideFirstTapId: z.number().int(),
    rideTappedAt: z.string().openapi({ format: 'date-time' }),
    ratedAt: z.string().openapi({ format: 'date-time' }),
    receivedAt: z.string().openapi({ format: 'date-time' }),
    lateForward: z.boolean().openapi({ description: 'Forwarded more than a day after ratedAt (flagged for the office)' }),
  })
  .openapi('Rating');
