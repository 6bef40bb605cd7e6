/**
 * Validator request signatures (SPEC §3): X-Signature = hex HMAC-SHA256(secret, `${X-Timestamp}.${raw body}`).
 * The key is the device secret exactly as issued (its ASCII characters), not a decoding of it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const SIGNATURE_RE = /^[0-9a-fA-F]{64}$/;
const TIMESTAMP_RE = /^\d{1,12}$/;

/** The hex signature a device computes. */
export function signTapRequest(secret: string | Buffer, timestamp: string, rawBody: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
}

/** Parses X-Timestamp (unix seconds); undefined when malformed. */
export function parseTimestamp(header: string | undefined): number | undefined {
  if (!header || !TIMESTAMP_RE.test(header)) return undefined;
  return Number(header);
}

/** True when |now - timestamp| is within the window. */
export function isWithinWindow(timestampS: number, nowMs: number, windowS: number): boolean {
  return Math.abs(nowMs / 1000 - timestampS) <= windowS;
}

/** Timing-safe check of a hex signature against any of the secrets. */
export function verifySignature(secrets: readonly Buffer[], timestamp: string, rawBody: Buffer, signature: string | undefined): boolean {
  if (!signature || !SIGNATURE_RE.test(signature)) return false;
  const given = Buffer.from(signature, 'hex');
  let ok = false;
  // Check every secret (no early exit) so timing does not tell which one matched.
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
    if (timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}
