/**
 * Test factories writing facts the way the other services do: each change with its outbox entry in
 * the same transaction. Personal fields are dummies (the aggregator never reads them).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { appendOutbox, sql, type Database } from '@ridetally/db';

export async function insertPerson(db: Database): Promise<string> {
  const personId = randomUUID();
  await db
    .insertInto('persons')
    .values({
      person_id: personId,
      id_hash: randomBytes(8).toString('hex'),
      id_ciphertext: Buffer.from('x'),
      name_ciphertext: Buffer.from('x'),
      name_masked: 'x*',
    })
    .execute();
  return personId;
}

export async function insertEmployer(
  db: Database,
  code: string,
  type: 'agency' | 'institution' | 'soe' | 'other',
  cityArea: boolean,
): Promise<void> {
  await db.insertInto('employers').values({ code, name: code, type, city_area: cityArea }).execute();
}

/** In service on Shanghai dates [from, toExclusive). */
export async function insertEmployment(
  db: Database,
  personId: string,
  employerCode: string,
  from: string,
  toExclusive: string | null,
): Promise<void> {
  await db
    .insertInto('employments')
    .values({
      person_id: personId,
      employer_code: employerCode,
      in_service: `[${from},${toExclusive ?? ''})`,
    })
    .execute();
}

export type MediaType = 'transit_card' | 'ecard' | 'qr' | 'id_card';

/** Binds a medium over [from, to) (ISO instants); with `announce`, appends the `person` entry. */
export async function insertBinding(
  db: Database,
  b: { personId: string; mediaType: MediaType; mediaKey: string; from: string; to: string | null },
  announce = false,
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto('media_bindings')
      .values({
        person_id: b.personId,
        media_type: b.mediaType,
        media_kind: null,
        media_key: b.mediaKey,
        valid: `[${b.from},${b.to ?? ''})`,
      })
      .execute();
    if (announce)
      await appendOutbox(tx, { topic: 'person', payload: { personId: b.personId, from: b.from } });
  });
}

export async function insertRoute(
  db: Database,
  routeId: string,
  isCity: boolean,
  announce = false,
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('routes').values({ route_id: routeId, is_city: isCity }).execute();
    if (announce) await appendOutbox(tx, { topic: 'route', payload: { routeId } });
  });
}

export interface NewTap {
  at: string | Date;
  vehicleId: string;
  routeId: string;
  mediaType: MediaType;
  mediaKey: string;
}

let deviceSeq = 0;

/** One group commit as ingest writes it: batch, taps, tap keys and one `taps` outbox entry. */
export async function insertTapBatch(
  db: Database,
  taps: readonly NewTap[],
): Promise<{ batchId: number; tapIds: number[] }> {
  return db.transaction().execute(async (tx) => {
    const times = taps.map((t) => new Date(t.at).toISOString());
    const { rows: b } = await sql<{ batch_id: number }>`
      INSERT INTO ingest_batches (tap_count, min_tapped_at, max_tapped_at)
      VALUES (${taps.length}, ${times.length ? [...times].sort()[0]! : null}, ${times.length ? [...times].sort().at(-1)! : null})
      RETURNING batch_id`.execute(tx);
    const batchId = b[0]!.batch_id;
    const { rows: ids } = await sql<{
      id: number;
    }>`SELECT nextval('tap_id_seq')::bigint AS id FROM generate_series(1, ${taps.length})`.execute(tx);
    const tapIds = ids.map((r) => r.id);
    const device = `D${process.pid}-${++deviceSeq}`;
    if (taps.length > 0) {
      await sql`
        INSERT INTO taps (tap_id, device_id, seq, tapped_at, received_at, batch_id, vehicle_id, route_id, media_type, media_key)
        SELECT id, ${device}, ord, at, now(), ${batchId}, v, r, mt, mk
        FROM unnest(${tapIds}::bigint[], ${times}::timestamptz[], ${taps.map((t) => t.vehicleId)}::text[], ${taps.map((t) => t.routeId)}::text[],
                    ${taps.map((t) => t.mediaType)}::text[], ${taps.map((t) => t.mediaKey)}::text[]) WITH ORDINALITY AS x(id, at, v, r, mt, mk, ord)`.execute(
        tx,
      );
      await sql`
        INSERT INTO tap_keys (device_id, seq, tap_id, tapped_at, content_hash)
        SELECT ${device}, ord, id, at, '\\x00'::bytea FROM unnest(${tapIds}::bigint[], ${times}::timestamptz[]) WITH ORDINALITY AS x(id, at, ord)`.execute(
        tx,
      );
    }
    await appendOutbox(tx, { topic: 'taps', payload: { batchId } });
    return { batchId, tapIds };
  });
}

/** A rating of one tap, with its `rating` entry. */
export async function insertRating(
  db: Database,
  r: { personId: string; tapId: number; tapAt: string | Date; ratedAt: string | Date },
): Promise<number> {
  return db.transaction().execute(async (tx) => {
    const { rows } = await sql<{ rating_id: number }>`
      INSERT INTO ratings (person_id, tap_id, ride_first_tap_id, ride_tapped_at, score, rated_at)
      VALUES (${r.personId}, ${r.tapId}, ${r.tapId}, ${new Date(r.tapAt).toISOString()}, 3, ${new Date(r.ratedAt).toISOString()})
      RETURNING rating_id`.execute(tx);
    const ratingId = rows[0]!.rating_id;
    await appendOutbox(tx, { topic: 'rating', payload: { ratingId } });
    return ratingId;
  });
}

export async function insertExclusion(
  db: Database,
  e: { personId: string; period: string; tapId?: number },
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto('exclusions')
      .values({
        person_id: e.personId,
        period: e.period,
        tap_id: e.tapId ?? null,
        reason: 'test',
        created_by: 'test',
      })
      .execute();
    await appendOutbox(tx, { topic: 'exclusion', payload: { personId: e.personId, period: e.period } });
  });
}

/** Empties every table the aggregator reads or writes (between property-test runs; DELETE is faster than TRUNCATE on few rows). */
export async function truncateAll(db: Database): Promise<void> {
  for (const table of [
    'anomalies',
    'exclusions',
    'ratings',
    'rides',
    'person_period_counts',
    'volume_daily',
    'tap_boardings',
    'outbox',
    'taps',
    'tap_keys',
    'ingest_batches',
    'media_bindings',
    'employments',
    'employers',
    'persons',
    'routes',
    'programme_years',
    'rules_versions',
  ]) {
    await sql`DELETE FROM ${sql.table(table)}`.execute(db);
  }
}
