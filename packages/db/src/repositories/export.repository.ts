/**
 * Reads behind the exports: the payment list (the one export with full names and ID numbers, so it
 * returns ciphertexts for the service to decrypt), employer names for notices, and taps for TIDES.
 */
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../types';

type Db = Kysely<DB> | Transaction<DB>;

export interface PaymentListRow {
  position: number;
  rank: number;
  personId: string;
  employerCode: string | null;
  rides: number;
  awardCny: number | null;
  nameCiphertext: Buffer | null;
  idCiphertext: Buffer | null;
  paidAt: Date | null;
  reference: string | null;
}

export async function listPaymentListRows(db: Db, snapshotId: string): Promise<PaymentListRow[]> {
  const rows = await db
    .selectFrom('snapshot_rows as r')
    .leftJoin('persons as p', 'p.person_id', 'r.person_id')
    .leftJoin('payments as pay', (j) => j.onRef('pay.snapshot_id', '=', 'r.snapshot_id').onRef('pay.person_id', '=', 'r.person_id'))
    .select(['r.position', 'r.rank', 'r.person_id', 'r.employer_code', 'r.rides', 'r.award_cny', 'p.name_ciphertext', 'p.id_ciphertext', 'pay.paid_at', 'pay.reference'])
    .where('r.snapshot_id', '=', snapshotId)
    .orderBy('r.position')
    .execute();
  return rows.map((r) => ({
    position: r.position,
    rank: r.rank,
    personId: r.person_id,
    employerCode: r.employer_code,
    rides: r.rides,
    awardCny: r.award_cny,
    nameCiphertext: r.name_ciphertext,
    idCiphertext: r.id_ciphertext,
    paidAt: r.paid_at,
    reference: r.reference,
  }));
}

export async function findEmployerNames(db: Db, codes: readonly string[]): Promise<Map<string, string>> {
  if (codes.length === 0) return new Map();
  const rows = await db.selectFrom('employers').select(['code', 'name']).where('code', 'in', [...new Set(codes)]).execute();
  return new Map(rows.map((r) => [r.code, r.name]));
}

export interface TideTapRow {
  tapId: number;
  deviceId: string;
  seq: number;
  tappedAt: Date;
  vehicleId: string;
  routeId: string;
  stopId: string | null;
  mediaType: 'transit_card' | 'ecard' | 'qr' | 'id_card';
  mediaKind: string | null;
  mediaKey: string;
}

/** Taps with tapped_at in [from, to), in (tapped_at, tap_id) order, a page after `after`. */
export async function listTapsForExport(db: Db, opts: { from: Date; to: Date; after?: { tappedAt: Date; tapId: number }; limit: number }): Promise<TideTapRow[]> {
  let q = db
    .selectFrom('taps')
    .select(['tap_id', 'device_id', 'seq', 'tapped_at', 'vehicle_id', 'route_id', 'stop_id', 'media_type', 'media_kind', 'media_key'])
    .where('tapped_at', '>=', opts.from)
    .where('tapped_at', '<', opts.to)
    .orderBy('tapped_at')
    .orderBy('tap_id')
    .limit(opts.limit);
  const after = opts.after;
  if (after) {
    q = q.where((eb) => eb.or([eb('tapped_at', '>', after.tappedAt), eb.and([eb('tapped_at', '=', after.tappedAt), eb('tap_id', '>', after.tapId)])]));
  }
  const rows = await q.execute();
  return rows.map((r) => ({
    tapId: r.tap_id,
    deviceId: r.device_id,
    seq: r.seq,
    tappedAt: r.tapped_at,
    vehicleId: r.vehicle_id,
    routeId: r.route_id,
    stopId: r.stop_id,
    mediaType: r.media_type,
    mediaKind: r.media_kind,
    mediaKey: r.media_key,
  }));
}
