/**
 * One validator batch, after authentication: validate each tap, hand the good ones (and the
 * quarantine rows of the bad ones) to the group commit, shape the SPEC §3 answer.
 */
import type { QuarantineRow } from '@ridetally/db';
import type { Keyring } from '@ridetally/keyring';
import type { GroupCommitter, PendingTap } from './group-commit';
import { SEQ_CONFLICT_MESSAGE } from './group-commit';
import {
  isRejection,
  sanitiseForQuarantine,
  tapContentHash,
  validateTap,
  type RejectionCode,
  type TapRejection,
} from './tap-validation';

export interface IngestOutcome {
  accepted: number;
  duplicates: number;
  rejected: { seq: number | null; code: RejectionCode; message: string }[];
  /** Taps stored for another vehicle than the device's registered one. */
  vehicleMismatches: number;
}

export interface IngestBatchInput {
  deviceId: string;
  deviceVehicleId: string | null;
  taps: unknown[];
  receivedAt: Date;
  nowMs: number;
}

export interface TapsServiceDeps {
  keyring: Keyring;
  committer: GroupCommitter;
  rejectVehicleMismatch: boolean;
}

/**
 * An ID-card tap's content hash with its media key under the previous master key: what a resend
 * matches while its holder is not re-keyed yet. The number is read back from the ciphertext just made,
 * so no plaintext ID number travels with the pending taps.
 */
function previousKeyContentHash(keyring: Keyring, tap: PendingTap): string | null {
  if (tap.mediaType !== 'id_card' || tap.mediaCiphertext === null) return null;
  const previousKey = keyring.idHashCandidates(keyring.decryptString('pii', tap.mediaCiphertext))[1];
  return previousKey === undefined ? null : tapContentHash(tap, previousKey);
}

export async function ingestTapBatch(deps: TapsServiceDeps, input: IngestBatchInput): Promise<IngestOutcome> {
  const { keyring, committer } = deps;
  const hashId = (id: string) => keyring.hashIdNumber(id);
  const pending: PendingTap[] = [];
  const pendingIndex: number[] = [];
  const rejections: TapRejection[] = [];
  const quarantine: QuarantineRow[] = [];
  let vehicleMismatches = 0;
  input.taps.forEach((raw, index) => {
    const v = validateTap(raw, index, {
      nowMs: input.nowMs,
      deviceVehicleId: input.deviceVehicleId,
      rejectVehicleMismatch: deps.rejectVehicleMismatch,
    });
    if (isRejection(v)) {
      rejections.push(v);
      quarantine.push({ deviceId: input.deviceId, seq: v.seq, receivedAt: input.receivedAt, code: v.code, message: v.message, payload: sanitiseForQuarantine(raw, hashId) });
      return;
    }
    if (input.deviceVehicleId !== null && v.vehicleId !== input.deviceVehicleId) vehicleMismatches++;
    const isIdCard = v.mediaType === 'id_card';
    const mediaKey = isIdCard ? keyring.hashIdNumber(v.mediaId) : v.mediaId;
    pending.push({
      deviceId: input.deviceId,
      seq: v.seq,
      tappedAt: v.tappedAt,
      receivedAt: input.receivedAt,
      contentHash: tapContentHash(v, mediaKey),
      vehicleId: v.vehicleId,
      routeId: v.routeId,
      stopId: v.stopId,
      mediaType: v.mediaType,
      mediaKind: v.mediaKind,
      mediaKey,
      mediaCiphertext: isIdCard ? keyring.encrypt('pii', v.mediaId) : null,
      raw,
    });
    pendingIndex.push(index);
  });

  const outcomes = await committer.submit({
    taps: pending,
    quarantine,
    sanitise: (raw) => sanitiseForQuarantine(raw, hashId),
    previousContentHash: keyring.previousKeyId === null ? undefined : (t) => previousKeyContentHash(keyring, t),
  });
  let accepted = 0;
  let duplicates = 0;
  outcomes.forEach((o, i) => {
    if (o === 'accepted') accepted++;
    else if (o === 'duplicate') duplicates++;
    else {
      rejections.push({ index: pendingIndex[i]!, seq: pending[i]!.seq, code: 'seq_conflict', message: SEQ_CONFLICT_MESSAGE });
    }
  });
  rejections.sort((a, b) => a.index - b.index);
  return {
    accepted,
    duplicates,
    rejected: rejections.map(({ seq, code, message }) => ({ seq, code, message })),
    vehicleMismatches,
  };
}
