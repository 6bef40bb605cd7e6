/** The JSON the validators and the app backend send (SPEC §3, §4). */
import { createHmac } from 'node:crypto';
import { formatShanghaiTime } from './calendar';
import type { SimRating, SimTap, TapBatch } from './traffic.model';

export interface WireTap {
  seq: number;
  tappedAt: string;
  vehicleId: string;
  routeId: string;
  stopId: string;
  media: { type: string; id: string; cardKind?: string; issuer?: string };
}

export function toWireTap(tap: SimTap): WireTap {
  const media: WireTap['media'] = { type: tap.media.type, id: tap.media.id };
  if (tap.media.type === 'transit_card' && tap.media.kind) media.cardKind = tap.media.kind;
  if (tap.media.type === 'ecard' && tap.media.kind) media.issuer = tap.media.kind;
  return {
    seq: tap.seq,
    tappedAt: formatShanghaiTime(tap.tappedAt),
    vehicleId: tap.vehicleId,
    routeId: tap.routeId,
    stopId: tap.stopId,
    media,
  };
}

/** The raw body of POST /v1/taps for a batch. */
export function batchBody(batch: TapBatch): string {
  return JSON.stringify({ taps: batch.taps.map(toWireTap) });
}

/** SPEC §3: hex HMAC-SHA256(secret, `${timestamp}.${raw body}`), the secret's characters as the key. */
export function signBatch(secret: string, timestampS: number, rawBody: string): string {
  return createHmac('sha256', secret).update(`${timestampS}.${rawBody}`).digest('hex');
}

/** One line of ratings.ndjson: the rated tap by its identity and what the app forwards. */
export interface RatingRecord {
  personRef: string;
  deviceId: string;
  seq: number;
  tappedAt: string;
  vehicleId: string;
  routeId: string;
  mediaType: string;
  score: number;
  ratedAt: string;
  forwardedAt: string;
}

export function toRatingRecord(r: SimRating): RatingRecord {
  return {
    personRef: r.personRef,
    deviceId: r.tap.deviceId,
    seq: r.tap.seq,
    tappedAt: formatShanghaiTime(r.tap.tappedAt),
    vehicleId: r.tap.vehicleId,
    routeId: r.tap.routeId,
    mediaType: r.tap.media.type,
    score: r.score,
    ratedAt: formatShanghaiTime(r.ratedAt),
    forwardedAt: formatShanghaiTime(r.forwardedAt),
  };
}
