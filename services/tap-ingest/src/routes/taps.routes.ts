/**
 * POST /v1/taps (SPEC §3). The raw body is kept for the signature; the order of checks is:
 * size (413, by the body reader) → timestamp window → device → signature (401) → rate (429) →
 * JSON and shape (400) → per-tap validation and group commit (200, or 503 when the database fails).
 */
import express, { type Request, type Response, type Router } from 'express';
import { AppError, type RateLimiter } from '@ridetally/http';
import type { DeviceCredentialStore } from '../device-credentials';
import { usableSecrets } from '../device-credentials';
import { databaseErrorKind, isDatabaseUnavailable } from '../db-errors';
import type { GroupCommitter } from '../group-commit';
import type { LastSeenTracker } from '../last-seen';
import type { IngestMetrics } from '../metrics';
import { isWithinWindow, parseTimestamp, verifySignature } from '../signature';
import { MAX_TAPS_PER_BATCH, TapBatchSchema } from '../tap-validation';
import { ingestTapBatch } from '../taps.service';
import type { Keyring } from '@ridetally/keyring';

export const MAX_BODY_BYTES = 1024 * 1024;
const DEVICE_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
const RETRY_AFTER_S = '2';

export interface TapsRouteDeps {
  keyring: Keyring;
  credentials: DeviceCredentialStore;
  committer: GroupCommitter;
  rateLimiter: RateLimiter;
  lastSeen: LastSeenTracker;
  metrics: IngestMetrics;
  signatureWindowS: number;
  rejectVehicleMismatch: boolean;
  commitTimeoutMs: number;
  now: () => number;
}

type AuthFailure = 'missing_headers' | 'bad_timestamp' | 'clock_skew' | 'unknown_device' | 'revoked_device' | 'bad_signature';

function unavailable(): AppError {
  return new AppError('unavailable', 'database unavailable, retry later', undefined, { headers: { 'Retry-After': RETRY_AFTER_S } });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('commit timed out')), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function registerTapsRoutes(router: Router, deps: TapsRouteDeps): void {
  const { metrics, now } = deps;

  const refuse = (req: Request, reason: AuthFailure, nowMs: number, deviceId?: string): AppError => {
    metrics.authFailures.inc({ reason });
    req.log.warn({ deviceId, reason }, 'validator request refused');
    const message = reason === 'clock_skew' || reason === 'bad_timestamp' ? 'X-Timestamp is missing or outside the allowed window' : 'device authentication failed';
    return new AppError('unauthorized', message, { reason: reason === 'clock_skew' || reason === 'bad_timestamp' ? 'clock_skew' : 'authentication' }, {
      body: { serverTime: new Date(nowMs).toISOString() },
    });
  };

  async function postTaps(req: Request, res: Response): Promise<void> {
    const started = performance.now();
    res.on('finish', () => {
      metrics.requests.inc({ status: String(res.statusCode) });
      metrics.batchDuration.observe((performance.now() - started) / 1000);
    });
    const nowMs = now();
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const deviceId = req.get('x-device-id');
    const timestamp = req.get('x-timestamp');
    if (!deviceId || !DEVICE_ID_RE.test(deviceId)) throw refuse(req, 'missing_headers', nowMs);
    const ts = parseTimestamp(timestamp);
    if (ts === undefined || timestamp === undefined) throw refuse(req, 'bad_timestamp', nowMs, deviceId);
    if (!isWithinWindow(ts, nowMs, deps.signatureWindowS)) throw refuse(req, 'clock_skew', nowMs, deviceId);

    let creds;
    try {
      creds = await deps.credentials.get(deviceId, nowMs);
    } catch (err) {
      metrics.dbErrors.inc({ kind: databaseErrorKind(err) });
      req.log.error({ err: databaseErrorKind(err) }, 'device lookup failed');
      throw unavailable();
    }
    if (!creds) throw refuse(req, 'unknown_device', nowMs, deviceId);
    if (creds.status !== 'active') throw refuse(req, 'revoked_device', nowMs, deviceId);
    if (!verifySignature(usableSecrets(creds, nowMs), timestamp, raw, req.get('x-signature'))) throw refuse(req, 'bad_signature', nowMs, deviceId);

    const decision = await deps.rateLimiter.take(deviceId, nowMs);
    if (!decision.allowed) {
      throw new AppError('rate_limited', 'too many requests from this device', undefined, { headers: { 'Retry-After': String(decision.retryAfterS) } });
    }
    deps.lastSeen.seen(deviceId, new Date(nowMs));

    let body: unknown;
    try {
      // A UTF-8 BOM is tolerated; anything else that is not JSON is a 400.
      body = JSON.parse(raw.toString('utf8').replace(/^\uFEFF/, ''));
    } catch {
      throw new AppError('malformed_json', 'request body is not valid JSON');
    }
    const tapsField = typeof body === 'object' && body !== null ? (body as { taps?: unknown }).taps : undefined;
    if (Array.isArray(tapsField) && tapsField.length > MAX_TAPS_PER_BATCH) {
      throw new AppError('payload_too_large', `a batch holds at most ${MAX_TAPS_PER_BATCH} taps`);
    }
    const shape = TapBatchSchema.safeParse(body);
    if (!shape.success) {
      throw new AppError('validation_failed', 'body must be {"taps": [...]}', shape.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
    }

    let outcome;
    try {
      outcome = await withTimeout(
        ingestTapBatch(
          { keyring: deps.keyring, committer: deps.committer, rejectVehicleMismatch: deps.rejectVehicleMismatch },
          { deviceId, deviceVehicleId: creds.vehicleId, taps: shape.data.taps, receivedAt: new Date(nowMs), nowMs },
        ),
        deps.commitTimeoutMs,
      );
    } catch (err) {
      const kind = databaseErrorKind(err);
      metrics.dbErrors.inc({ kind });
      req.log.error({ deviceId, kind, unavailable: isDatabaseUnavailable(err) }, 'tap batch not committed');
      throw unavailable();
    }

    metrics.tapsAccepted.inc(outcome.accepted);
    metrics.tapsDuplicate.inc(outcome.duplicates);
    for (const r of outcome.rejected) metrics.tapsRejected.inc({ code: r.code });
    if (outcome.vehicleMismatches) {
      metrics.vehicleMismatch.inc(outcome.vehicleMismatches);
      req.log.warn({ deviceId, registeredVehicleId: creds.vehicleId, taps: outcome.vehicleMismatches }, 'taps for another vehicle than the device is registered on');
    }
    if (outcome.rejected.length) {
      req.log.info({ deviceId, rejected: outcome.rejected.map((r) => ({ seq: r.seq, code: r.code })) }, 'taps rejected');
    }
    res.status(200).json({
      accepted: outcome.accepted,
      duplicates: outcome.duplicates,
      rejected: outcome.rejected,
      serverTime: new Date(now()).toISOString(),
    });
  }

  router.post('/v1/taps', express.raw({ type: () => true, limit: MAX_BODY_BYTES }), postTaps);
}
