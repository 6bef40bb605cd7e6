/**
 * Per-tap validation (SPEC §3), pure: the clock and the keyring's functions are passed in. A bad tap
 * becomes a rejection with a code and a message that never quotes the input (it may hold an ID
 * number); a good tap becomes the row the group commit stores, with its content hash.
 */
import { hash } from 'node:crypto';
import {
  CARD_KINDS,
  checkNationalId,
  ECARD_ISSUERS,
  MEDIA_TYPES,
  NATIONAL_ID_MESSAGES,
  normaliseNationalId,
  PROGRAMME_START_ISO,
  type MediaType,
} from '@ridetally/domain';
import { z } from 'zod';

export const REJECTION_CODES = [
  'invalid_tap',
  'unknown_field',
  'invalid_media',
  'invalid_id_number',
  'implausible_time',
  'vehicle_mismatch',
  'seq_conflict',
] as const;
export type RejectionCode = (typeof REJECTION_CODES)[number];

/** Taps dated before this instant are implausible (the programme starts 2022-04-01 00:00 Shanghai). */
export const PROGRAMME_START_MS = Date.parse(PROGRAMME_START_ISO);
/** How far ahead of the server clock a tap may be dated. */
export const FUTURE_TOLERANCE_MS = 5 * 60 * 1000;
export const MAX_TAPS_PER_BATCH = 500;

// Identifiers: 1-64 characters, no control characters (Postgres text cannot hold U+0000).
const IdTextSchema = z
  .string()
  .min(1)
  .max(64)
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');

export const TapMediaSchema = z.strictObject({
  type: z.enum(MEDIA_TYPES),
  id: IdTextSchema,
  cardKind: z.enum(CARD_KINDS).optional(),
  issuer: z.enum(ECARD_ISSUERS).optional(),
});

export const TapSchema = z.strictObject({
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  // ISO 8601 with a UTC offset (or Z): a tap without a zone would be ambiguous.
  tappedAt: z.iso.datetime({ offset: true }),
  vehicleId: IdTextSchema,
  routeId: IdTextSchema,
  stopId: IdTextSchema.nullable().optional(),
  media: TapMediaSchema,
});
export type Tap = z.infer<typeof TapSchema>;

/**
 * The hot path: a tap that is exactly of the contract's shape is recognised without zod (zod's
 * object parsing cost more than everything else per tap). It accepts a subset of what TapSchema
 * accepts — same keys, same types, same lengths, zod's own datetime pattern — and returns the
 * input itself, as zod would; anything else goes through TapSchema, which words the rejection.
 */
// eslint-disable-next-line no-control-regex -- same rule as IdTextSchema
const ID_TEXT = /^[^\u0000-\u001f\u007f]{1,64}$/;
const DATETIME_WITH_OFFSET = z.regexes.datetime({ offset: true, local: false, precision: null });
const TAP_KEYS = new Set(['seq', 'tappedAt', 'vehicleId', 'routeId', 'stopId', 'media']);
const MEDIA_KEYS = new Set(['type', 'id', 'cardKind', 'issuer']);
const MEDIA_TYPE_SET = new Set<unknown>(MEDIA_TYPES);
const CARD_KIND_SET = new Set<unknown>(CARD_KINDS);
const ECARD_ISSUER_SET = new Set<unknown>(ECARD_ISSUERS);
const isIdText = (v: unknown): v is string => typeof v === 'string' && v.length <= 64 && ID_TEXT.test(v);
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

export function fastParseTap(raw: unknown): Tap | undefined {
  if (!isPlainObject(raw)) return undefined;
  for (const k in raw) if (!TAP_KEYS.has(k)) return undefined;
  const { seq, tappedAt, vehicleId, routeId, stopId, media } = raw;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
  if (typeof tappedAt !== 'string' || !DATETIME_WITH_OFFSET.test(tappedAt)) return undefined;
  if (!isIdText(vehicleId) || !isIdText(routeId)) return undefined;
  if (stopId !== undefined && stopId !== null && !isIdText(stopId)) return undefined;
  if (!isPlainObject(media)) return undefined;
  for (const k in media) if (!MEDIA_KEYS.has(k)) return undefined;
  if (!MEDIA_TYPE_SET.has(media.type) || !isIdText(media.id)) return undefined;
  if (media.cardKind !== undefined && !CARD_KIND_SET.has(media.cardKind)) return undefined;
  if (media.issuer !== undefined && !ECARD_ISSUER_SET.has(media.issuer)) return undefined;
  return raw as Tap;
}

/** The request body; the taps themselves are validated one by one. */
export const TapBatchSchema = z.strictObject({ taps: z.array(z.unknown()) });

export interface TapRejection {
  index: number;
  seq: number | null;
  code: RejectionCode;
  message: string;
}

export interface ValidTap {
  index: number;
  seq: number;
  tappedAt: Date;
  vehicleId: string;
  routeId: string;
  stopId: string | null;
  mediaType: MediaType;
  mediaKind: string | null;
  /** The media id (ID number normalised for id_card: never stored, only hashed and encrypted). */
  mediaId: string;
}

export interface ValidationContext {
  nowMs: number;
  /** The vehicle the device is registered on (null: not registered to one). */
  deviceVehicleId: string | null;
  /** Reject taps for another vehicle than the device's (default: accept and report). */
  rejectVehicleMismatch: boolean;
}

/** A seq worth reporting back, even from an otherwise bad tap. */
export function extractSeq(raw: unknown): number | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const seq = (raw as { seq?: unknown }).seq;
  return typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0 ? seq : null;
}

function describeIssues(error: z.ZodError): { code: RejectionCode; message: string } {
  const issues = error.issues;
  const unknown = issues.find((i) => i.code === 'unrecognized_keys');
  if (unknown && unknown.code === 'unrecognized_keys') {
    const where = unknown.path.length ? `${unknown.path.join('.')}: ` : '';
    // Key names are the device's field names, not values: safe to echo (truncated; no NUL, which a text column refuses).
    const keys = unknown.keys.map((k) => k.slice(0, 32).replace(NUL, '\ufffd')).join(', ');
    return { code: 'unknown_field', message: `${where}unknown field(s): ${keys}` };
  }
  const first = issues[0]!;
  const path = first.path.join('.') || 'tap';
  // zod messages state the expectation, never the received value.
  const message = `${path}: ${first.message}`;
  return { code: first.path[0] === 'media' ? 'invalid_media' : 'invalid_tap', message };
}

// A module-level function, not a closure per tap (the hot path allocates less).
function rejection(index: number, seq: number | null, code: RejectionCode, message: string): TapRejection {
  return { index, seq, code, message };
}

/** Validates one tap of a batch. */
export function validateTap(raw: unknown, index: number, ctx: ValidationContext): ValidTap | TapRejection {
  const seq = extractSeq(raw);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return rejection(index, seq, 'invalid_tap', 'a tap must be a JSON object');
  let tap = fastParseTap(raw);
  if (!tap) {
    const parsed = TapSchema.safeParse(raw);
    if (!parsed.success) {
      const { code, message } = describeIssues(parsed.error);
      return rejection(index, seq, code, message);
    }
    tap = parsed.data;
  }
  const { type } = tap.media;
  let mediaKind: string | null = null;
  let mediaId = tap.media.id;
  switch (type) {
    case 'transit_card':
      if (!tap.media.cardKind) return rejection(index, seq, 'invalid_media', 'media.cardKind is required for a transit_card');
      if (tap.media.issuer) return rejection(index, seq, 'invalid_media', 'media.issuer is only for an ecard');
      mediaKind = tap.media.cardKind;
      break;
    case 'ecard':
      if (!tap.media.issuer) return rejection(index, seq, 'invalid_media', 'media.issuer is required for an ecard');
      if (tap.media.cardKind) return rejection(index, seq, 'invalid_media', 'media.cardKind is only for a transit_card');
      mediaKind = tap.media.issuer;
      break;
    case 'qr':
    case 'id_card':
      if (tap.media.cardKind || tap.media.issuer) return rejection(index, seq, 'invalid_media', `media.cardKind and media.issuer are not allowed for ${type}`);
      if (type === 'id_card') {
        const problem = checkNationalId(tap.media.id);
        if (problem) return rejection(index, seq, 'invalid_id_number', NATIONAL_ID_MESSAGES[problem]);
        mediaId = normaliseNationalId(tap.media.id);
      }
      break;
  }
  const tappedAtMs = Date.parse(tap.tappedAt);
  if (!(tappedAtMs >= PROGRAMME_START_MS)) return rejection(index, seq, 'implausible_time', `tappedAt is before the programme start (${PROGRAMME_START_ISO})`);
  if (tappedAtMs > ctx.nowMs + FUTURE_TOLERANCE_MS) return rejection(index, seq, 'implausible_time', 'tappedAt is more than 5 minutes ahead of the server clock');
  if (ctx.rejectVehicleMismatch && ctx.deviceVehicleId !== null && tap.vehicleId !== ctx.deviceVehicleId) {
    return rejection(index, seq, 'vehicle_mismatch', 'vehicleId is not the vehicle this device is registered on');
  }
  return {
    index,
    seq: tap.seq,
    tappedAt: new Date(tappedAtMs),
    vehicleId: tap.vehicleId,
    routeId: tap.routeId,
    stopId: tap.stopId ?? null,
    mediaType: type,
    mediaKind,
    mediaId,
  };
}

export function isRejection(v: ValidTap | TapRejection): v is TapRejection {
  return 'code' in v;
}

/**
 * SHA-256 of a tap's canonical content: the instant (not its spelling), the fields, and the media
 * key. For an id_card the key is the keyed hash of the number, never the number itself: an unkeyed
 * hash of an ID number could be reversed by trying every plausible number.
 */
export function tapContentHash(
  tap: Pick<ValidTap, 'seq' | 'tappedAt' | 'vehicleId' | 'routeId' | 'stopId' | 'mediaType' | 'mediaKind'>,
  mediaKey: string,
): string {
  const canonical = JSON.stringify([tap.seq, tap.tappedAt.getTime(), tap.vehicleId, tap.routeId, tap.stopId, tap.mediaType, tap.mediaKind, mediaKey]);
  // One-shot hash (node ≥ 20.12): a third of createHash's cost, and this runs once per tap.
  return hash('sha256', canonical, 'hex');
}

const MAX_DEPTH = 16;
// NUL and lone UTF-16 surrogates: PostgreSQL's jsonb refuses both (\u0000, \udfff), which would fail the whole batch.
// eslint-disable-next-line no-control-regex -- jsonb cannot hold U+0000
const NUL = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const NATIONAL_ID_LIKE = /^\s*\d{17}[\dXx]\s*$/;

/**
 * A rejected tap as kept in quarantine: every string that is (or, in an id_card's media, claims to
 * be) an ID number replaced by its keyed hash, U+0000 removed (jsonb cannot hold it), nesting cut.
 */
export function sanitiseForQuarantine(raw: unknown, hashIdNumber: (id: string) => string): unknown {
  const redact = (s: string) => `id-hash:${hashIdNumber(s)}`;
  const clean = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') {
      if (NATIONAL_ID_LIKE.test(v) && checkNationalId(v) === null) return redact(v);
      return v.replace(NUL, '\ufffd');
    }
    // A number of 17+ digits can only be an ID number typed as a number (seqs stay below 2^53).
    if (typeof v === 'number' && Math.abs(v) >= 1e16) return redact(String(v));
    if (typeof v !== 'object' || v === null) return v;
    if (depth >= MAX_DEPTH) return '[nested too deep]';
    if (Array.isArray(v)) return v.map((x) => clean(x, depth + 1));
    const out: Record<string, unknown> = {};
    const obj = v as Record<string, unknown>;
    // A media object whose type is id_card or unknown may carry an ID number in `id` even when invalid.
    const type = obj.type;
    const sensitiveMedia = depth === 1 && 'id' in obj && !(typeof type === 'string' && type !== 'id_card' && (MEDIA_TYPES as readonly string[]).includes(type));
    for (const [k, x] of Object.entries(obj)) {
      const key = k.replace(NUL, '\ufffd');
      const scalar = typeof x === 'string' || typeof x === 'number' || typeof x === 'bigint';
      out[key] = sensitiveMedia && k === 'id' && scalar ? redact(String(x)) : clean(x, depth + 1);
    }
    return out;
  };
  return clean(raw, 0);
}
