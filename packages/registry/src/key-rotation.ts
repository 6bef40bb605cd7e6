/**
 * Re-keying stored data after a master-key change (`ridetally keys rotate`, docs/operations.md).
 * With RIDETALLY_MASTER_KEY = new and RIDETALLY_MASTER_KEY_PREVIOUS = old, every row derived from
 * the old key is rewritten under the new one, in batches, each its own transaction:
 *
 * 1. devices: secret ciphertexts re-encrypted.
 * 2. persons: ID, name and phone ciphertexts re-encrypted and id_hash re-hashed — together, in the
 *    same transaction, with the person's ID-card bindings (in place, one statement: the exclusion
 *    constraint never sees two copies) and every ID-card tap under the old hash (media_key,
 *    media_ciphertext, tap_keys.content_hash). A person's taps and bindings therefore always share
 *    one key: the aggregator, which joins them on media_key, reads either the old world or the new
 *    one for that person, never a mix, and counts are keyed by person_id, which never changes.
 * 3. ID-card taps no person holds (unregistered riders): per media key, all taps at once.
 * 4. staff sessions created before the rotation started are revoked (their token hashes are keyed);
 *    rider-app client tokens cannot be re-hashed without the token, so they are listed to re-issue.
 *
 * Each row names its key (a ciphertext carries its key id; a hash moves with the ciphertext written
 * beside it), so a re-run, after a crash or not, picks up exactly the rows still under the old key
 * and a finished rotation re-run changes nothing. Taps that ingest stored under the new key while
 * their holder was still under the old one (the rotation window), and batches a worker had not yet
 * applied when their keys changed, are announced again on the outbox so the aggregator re-derives
 * them. Nothing here logs or returns an ID number, a name, a secret or a hash.
 */
import { hash } from 'node:crypto';
import {
  appendAudit,
  appendOutbox,
  beginKeyRotation,
  countRowsUnderOtherKeys,
  countStaffSessionsCreatedBefore,
  findApiClientsCreatedBefore,
  findBatchesOfOtherTaps,
  findCiphertextKeyIds,
  findIdCardBindingHolders,
  findIdCardTapKeysToRekey,
  findKeyRotation,
  findPersonIdsByIdHash,
  findUnprocessedTapBatches,
  finishKeyRotation,
  lockDevicesToRekey,
  lockIdCardTapsOfKeys,
  lockPersonsToRekey,
  lockVolumeRecompute,
  rekeyIdCardBindings,
  revokeStaffSessionsCreatedBefore,
  updateDeviceCiphertexts,
  updatePersonCiphertexts,
  updateTapsRekeyed,
  type DB,
  type IdCardTapRow,
  type KeyUsageCounts,
  type TapRekey,
  type Transaction,
} from '@ridetally/db';
import type { Keyring } from '@ridetally/keyring';
import type { RegistryDeps } from './deps';

export class KeyRotationError extends Error {
  override name = 'KeyRotationError';
}

export type KeyRotationPhase = 'devices' | 'persons' | 'taps';

export interface KeyRotationOptions {
  /** Rows (devices, persons, tap media keys) per transaction; default 100. */
  batchSize?: number;
  /** Count what would change, change nothing (no audit entry either). */
  dryRun?: boolean;
  /** Who runs it, for the audit entry. */
  actor?: string;
  /** Called after each committed batch: rows of the phase done so far, and the phase's total at the start. */
  onProgress?: (phase: KeyRotationPhase, done: number, total: number) => void;
}

export interface KeyRotationChanges {
  devices: number;
  persons: number;
  idCardBindings: number;
  idCardTaps: number;
  tapKeys: number;
  staffSessionsRevoked: number;
}

export interface KeyRotationReport {
  fromKeyId: string | null;
  toKeyId: string;
  dryRun: boolean;
  startedAt: string;
  finishedAt: string;
  /** Rows under another key before the run (devices, persons, ID-card bindings, ID-card taps). */
  before: KeyUsageCounts;
  /** … and after it (all 0 unless there were conflicts or unreadable rows). */
  after: KeyUsageCounts;
  changed: KeyRotationChanges;
  /** Tap batches announced again so the aggregator re-derives them. */
  reannouncedBatches: number;
  /** `person` entries appended for holders whose taps changed key after their binding. */
  personEvents: number;
  /**
   * Persons not re-keyed because another person already holds their new id hash (registered again
   * under the new key during the window): ids only, to merge by hand.
   */
  conflicts: string[];
  /** ID-card taps without a ciphertext (cannot be re-keyed). */
  unreadableTaps: number;
  /** Rider-app clients whose token predates the new key: issue a new token (`client add`), revoke these. */
  clientsToReissue: { clientId: string; name: string }[];
}

export interface KeyStatus {
  currentKeyId: string;
  previousKeyId: string | null;
  /** Key ids found in stored ciphertexts (hex). */
  keyIdsInUse: string[];
  /** Key ids in use that are neither current nor previous: that data cannot be read. */
  unknownKeyIds: string[];
  remaining: KeyUsageCounts;
  rotation: { startedAt: string; finishedAt: string | null } | null;
  staffSessionsToRevoke: number;
  clientsToReissue: { clientId: string; name: string }[];
  /** True when nothing is left under another key (RIDETALLY_MASTER_KEY_PREVIOUS can be removed). */
  done: boolean;
}

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** SHA-256 (hex) of a tap's canonical content, exactly as tap-ingest computes it (tapContentHash). */
export function idCardTapContentHash(t: Pick<IdCardTapRow, 'seq' | 'tapped_at' | 'vehicle_id' | 'route_id' | 'stop_id' | 'media_kind'>, mediaKey: string): string {
  const canonical = JSON.stringify([Number(t.seq), t.tapped_at.getTime(), t.vehicle_id, t.route_id, t.stop_id, 'id_card', t.media_kind, mediaKey]);
  return hash('sha256', canonical, 'hex');
}

const total = (c: KeyUsageCounts) => c.devices + c.persons + c.idCardBindings + c.idCardTaps;

/** How many rows are still under another key than the current one, and what else the rotation leaves to do. */
export async function keyStatus(deps: Pick<RegistryDeps, 'db' | 'keyring' | 'now'>): Promise<KeyStatus> {
  const { db, keyring } = deps;
  const remaining = await countRowsUnderOtherKeys(db, keyring.keyId);
  const keyIdsInUse = await findCiphertextKeyIds(db);
  const known = new Set([keyring.keyId, keyring.previousKeyId].filter((k): k is string => k !== null));
  const rotation = keyring.previousKeyId ? await findKeyRotation(db, keyring.previousKeyId, keyring.keyId) : undefined;
  const now = deps.now();
  const before = rotation?.started_at;
  return {
    currentKeyId: keyring.keyId,
    previousKeyId: keyring.previousKeyId,
    keyIdsInUse,
    unknownKeyIds: keyIdsInUse.filter((k) => !known.has(k)),
    remaining,
    rotation: rotation ? { startedAt: rotation.started_at.toISOString(), finishedAt: rotation.finished_at?.toISOString() ?? null } : null,
    staffSessionsToRevoke: before ? await countStaffSessionsCreatedBefore(db, before, now) : 0,
    clientsToReissue: before ? (await findApiClientsCreatedBefore(db, before)).map((c) => ({ clientId: c.client_id, name: c.name })) : [],
    done: total(remaining) === 0,
  };
}

interface Ctx {
  deps: Pick<RegistryDeps, 'db' | 'keyring' | 'now'>;
  batchSize: number;
  report: KeyRotationReport;
  onProgress: (phase: KeyRotationPhase, done: number, total: number) => void;
}

/** Re-encrypts `blob` under the current key when it is under another one. */
function reencrypt(keyring: Keyring, purpose: 'pii' | 'device-secret', blob: Buffer): Buffer {
  return keyring.needsReencryption(blob) ? keyring.encrypt(purpose, keyring.decrypt(purpose, blob)) : blob;
}

/**
 * Appends `taps` outbox entries for tap batches the aggregator must apply again: those holding
 * ID-card taps that were under the new key before this transaction (its holder's binding was under
 * the old one when a worker applied them), and those of the re-keyed taps a worker has not applied
 * yet (it may have read their old keys half-way). Returns the batch ids announced.
 */
async function reannounce(trx: Transaction<DB>, newKeys: string[], rekeyed: IdCardTapRow[], already: Set<number>): Promise<number[]> {
  const early = await findBatchesOfOtherTaps(trx, newKeys, rekeyed.map((t) => t.tap_id));
  const pending = await findUnprocessedTapBatches(trx, [...new Set(rekeyed.map((t) => t.batch_id))]);
  const ids = [...new Set([...early, ...pending])].filter((b) => !already.has(b)).sort((a, b) => a - b);
  await appendOutbox(trx, ids.map((batchId) => ({ topic: 'taps' as const, payload: { batchId } })));
  for (const b of ids) already.add(b);
  return ids;
}

function rekeyTaps(keyring: Keyring, taps: IdCardTapRow[], idOfKey: Map<string, { id: string; to: string }>): TapRekey[] {
  return taps.map((t) => {
    const target = idOfKey.get(t.media_key)!;
    return {
      tap_id: t.tap_id,
      tapped_at: t.tapped_at,
      device_id: t.device_id,
      seq: t.seq,
      from_media_key: t.media_key,
      media_key: target.to,
      media_ciphertext: keyring.encrypt('pii', target.id),
      content_hash: idCardTapContentHash(t, target.to),
    };
  });
}

async function rotateDevices(ctx: Ctx, totalRows: number): Promise<void> {
  const { db, keyring } = ctx.deps;
  let after = '';
  let done = 0;
  for (;;) {
    const n = await db.transaction().execute(async (trx) => {
      const rows = await lockDevicesToRekey(trx, keyring.keyId, after, ctx.batchSize);
      if (rows.length === 0) return 0;
      after = rows[rows.length - 1]!.device_id;
      const updated = rows.map((r) => ({
        device_id: r.device_id,
        secret_ciphertext: reencrypt(keyring, 'device-secret', r.secret_ciphertext),
        previous_secret_ciphertext: r.previous_secret_ciphertext ? reencrypt(keyring, 'device-secret', r.previous_secret_ciphertext) : null,
      }));
      await updateDeviceCiphertexts(trx, updated);
      return rows.length;
    });
    if (n === 0) return;
    done += n;
    ctx.report.changed.devices += n;
    ctx.onProgress('devices', done, totalRows);
  }
}

async function rotatePersons(ctx: Ctx, totalRows: number): Promise<void> {
  const { db, keyring } = ctx.deps;
  const announced = new Set<number>();
  let after = NIL_UUID;
  let done = 0;
  for (;;) {
    const batch = await db.transaction().execute(async (trx) => {
      // A volume recompute slices taps by media_key: it must not run across a batch's change of keys.
      await lockVolumeRecompute(trx, false);
      const rows = await lockPersonsToRekey(trx, keyring.keyId, after, ctx.batchSize);
      if (rows.length === 0) return null;
      after = rows[rows.length - 1]!.person_id;
      const plans = rows.map((p) => {
        const id = keyring.decryptString('pii', p.id_ciphertext);
        return { row: p, id, to: keyring.hashIdNumber(id) };
      });
      const moving = plans.filter((p) => p.to !== p.row.id_hash);
      const holders = await findPersonIdsByIdHash(trx, moving.map((p) => p.to));
      const taken = new Set(holders.map((h) => h.id_hash));
      const conflicts = moving.filter((p) => taken.has(p.to)).map((p) => p.row.person_id);
      const ok = plans.filter((p) => !conflicts.includes(p.row.person_id));
      const keyChanges = ok.filter((p) => p.to !== p.row.id_hash);
      await updatePersonCiphertexts(
        trx,
        ok.map(({ row, id, to }) => ({
          person_id: row.person_id,
          id_hash: to,
          id_ciphertext: keyring.needsReencryption(row.id_ciphertext) ? keyring.encrypt('pii', id) : row.id_ciphertext,
          name_ciphertext: reencrypt(keyring, 'pii', row.name_ciphertext),
          phone_ciphertext: row.phone_ciphertext ? reencrypt(keyring, 'pii', row.phone_ciphertext) : null,
        })),
      );
      const bindings = await rekeyIdCardBindings(trx, keyChanges.map((p) => ({ from: p.row.id_hash, to: p.to })));
      const taps = await lockIdCardTapsOfKeys(trx, keyChanges.map((p) => p.row.id_hash));
      const idOfKey = new Map(keyChanges.map((p) => [p.row.id_hash, { id: p.id, to: p.to }]));
      await updateTapsRekeyed(trx, rekeyTaps(keyring, taps, idOfKey));
      const newKeys = keyChanges.map((p) => p.to);
      const batches = await reannounce(trx, newKeys, taps, announced);
      return { persons: ok.length, conflicts, bindings, taps, newKeys, batches, seen: rows.length };
    });
    if (!batch) return;
    // Taps that ingest committed under a new key after the check above and before this commit: a
    // worker may have applied them against the old binding. Announced again now that it is new.
    const late = await db.transaction().execute((trx) => reannounce(trx, batch.newKeys, batch.taps, announced));
    done += batch.seen;
    const c = ctx.report.changed;
    c.persons += batch.persons;
    c.idCardBindings += batch.bindings;
    c.idCardTaps += batch.taps.length;
    c.tapKeys += batch.taps.length;
    ctx.report.reannouncedBatches += batch.batches.length + late.length;
    ctx.report.conflicts.push(...batch.conflicts);
    ctx.onProgress('persons', done, totalRows);
  }
}

async function rotateOrphanTaps(ctx: Ctx, totalRows: number): Promise<void> {
  const { db, keyring } = ctx.deps;
  const announced = new Set<number>();
  let after = '';
  let done = 0;
  for (;;) {
    const batch = await db.transaction().execute(async (trx) => {
      await lockVolumeRecompute(trx, false);
      const keys = await findIdCardTapKeysToRekey(trx, keyring.keyId, after, ctx.batchSize);
      if (keys.length === 0) return null;
      after = keys[keys.length - 1]!.media_key;
      const readable = keys.filter((k) => k.media_ciphertext !== null);
      const idOfKey = new Map(
        readable.map((k) => {
          const id = keyring.decryptString('pii', k.media_ciphertext!);
          return [k.media_key, { id, to: keyring.hashIdNumber(id) }];
        }),
      );
      const taps = (await lockIdCardTapsOfKeys(trx, [...idOfKey.keys()])).filter((t) => t.media_ciphertext !== null);
      const unreadable = keys.length - readable.length;
      await updateTapsRekeyed(trx, rekeyTaps(keyring, taps, idOfKey));
      const newKeys = [...new Set([...idOfKey.values()].map((v) => v.to))];
      // A holder bound under the new key (registered during the window) gets these taps only now.
      const holders = await findIdCardBindingHolders(trx, newKeys);
      const firstAt = new Map<string, number>();
      for (const t of taps) {
        const to = idOfKey.get(t.media_key)!.to;
        firstAt.set(to, Math.min(firstAt.get(to) ?? Infinity, t.tapped_at.getTime()));
      }
      const events = holders
        .filter((h) => firstAt.has(h.media_key))
        .map((h) => ({ topic: 'person' as const, payload: { personId: h.person_id, from: new Date(firstAt.get(h.media_key)!).toISOString() } }));
      await appendOutbox(trx, events);
      const batches = await reannounce(trx, newKeys, taps, announced);
      return { taps, newKeys, batches, events: events.length, unreadable, seen: keys.length };
    });
    if (!batch) return;
    const late = await db.transaction().execute((trx) => reannounce(trx, batch.newKeys, batch.taps, announced));
    done += batch.taps.length + batch.unreadable;
    ctx.report.changed.idCardTaps += batch.taps.length;
    ctx.report.changed.tapKeys += batch.taps.length;
    ctx.report.reannouncedBatches += batch.batches.length + late.length;
    ctx.report.personEvents += batch.events;
    ctx.report.unreadableTaps += batch.unreadable;
    ctx.onProgress('taps', Math.min(done, totalRows), totalRows);
  }
}

/**
 * Rewrites everything under RIDETALLY_MASTER_KEY_PREVIOUS under RIDETALLY_MASTER_KEY. Resumable and
 * idempotent; audited once per run (not for a dry run). Refuses when stored data is under a key
 * that is neither current nor previous (it could not be read).
 */
export async function rotateKeys(deps: Pick<RegistryDeps, 'db' | 'keyring' | 'now'>, options: KeyRotationOptions = {}): Promise<KeyRotationReport> {
  const { db, keyring } = deps;
  const batchSize = options.batchSize ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new KeyRotationError('batch size must be an integer from 1 to 10000');
  const status = await keyStatus(deps);
  if (status.unknownKeyIds.length > 0) {
    throw new KeyRotationError(
      `stored data is under master key id(s) ${status.unknownKeyIds.join(', ')}, neither RIDETALLY_MASTER_KEY (${keyring.keyId}) nor RIDETALLY_MASTER_KEY_PREVIOUS${keyring.previousKeyId ? ` (${keyring.previousKeyId})` : ' (not set)'}; set the key that made it as RIDETALLY_MASTER_KEY_PREVIOUS`,
    );
  }
  const startedAt = deps.now();
  const report: KeyRotationReport = {
    fromKeyId: keyring.previousKeyId,
    toKeyId: keyring.keyId,
    dryRun: options.dryRun ?? false,
    startedAt: startedAt.toISOString(),
    finishedAt: startedAt.toISOString(),
    before: status.remaining,
    after: status.remaining,
    changed: { devices: 0, persons: 0, idCardBindings: 0, idCardTaps: 0, tapKeys: 0, staffSessionsRevoked: 0 },
    reannouncedBatches: 0,
    personEvents: 0,
    conflicts: [],
    unreadableTaps: 0,
    clientsToReissue: status.clientsToReissue,
  };
  if (report.dryRun) {
    report.changed = {
      devices: status.remaining.devices,
      persons: status.remaining.persons,
      idCardBindings: status.remaining.idCardBindings,
      idCardTaps: status.remaining.idCardTaps,
      tapKeys: status.remaining.idCardTaps,
      staffSessionsRevoked: status.staffSessionsToRevoke,
    };
    return report;
  }
  const from = keyring.previousKeyId;
  if (!from) {
    if (total(status.remaining) === 0) return report;
    throw new KeyRotationError('RIDETALLY_MASTER_KEY_PREVIOUS must hold the old master key to re-key the rows still under it');
  }
  const rotation = await beginKeyRotation(db, from, keyring.keyId, startedAt);
  // The status above was read before a first run recorded the rotation's start: list the clients now.
  report.clientsToReissue = (await findApiClientsCreatedBefore(db, rotation.started_at)).map((c) => ({
    clientId: c.client_id,
    name: c.name,
  }));
  const ctx: Ctx = { deps, batchSize, report, onProgress: options.onProgress ?? (() => undefined) };
  const audit = async (outcome: 'completed' | 'failed', failure?: unknown) => {
    const finished = deps.now();
    report.finishedAt = finished.toISOString();
    await appendAudit(
      db,
      {
        actor: options.actor ?? 'cli',
        action: 'keys.rotate',
        subject: `${from}->${keyring.keyId}`,
        details: {
          outcome,
          // The error's class only: a driver message may quote a row's values.
          ...(failure ? { error: failure instanceof Error ? failure.name : 'unknown' } : {}),
          startedAt: report.startedAt,
          finishedAt: report.finishedAt,
          rotationStartedAt: rotation.started_at.toISOString(),
          batchSize,
          before: report.before,
          changed: report.changed,
          after: report.after,
          reannouncedBatches: report.reannouncedBatches,
          personEvents: report.personEvents,
          conflicts: report.conflicts.length,
          unreadableTaps: report.unreadableTaps,
          clientsToReissue: report.clientsToReissue.length,
        },
      },
      finished,
    );
  };
  try {
    await rotateDevices(ctx, status.remaining.devices);
    await rotatePersons(ctx, status.remaining.persons);
    await rotateOrphanTaps(ctx, Math.max(0, status.remaining.idCardTaps - report.changed.idCardTaps));
    report.changed.staffSessionsRevoked = await revokeStaffSessionsCreatedBefore(db, rotation.started_at, deps.now());
    report.after = await countRowsUnderOtherKeys(db, keyring.keyId);
    if (total(report.after) === 0) await finishKeyRotation(db, from, keyring.keyId, deps.now());
  } catch (err) {
    await audit('failed', err).catch(() => undefined);
    throw err;
  }
  await audit('completed');
  return report;
}
