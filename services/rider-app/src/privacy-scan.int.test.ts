/**
 * The scan test (issue 3): after registration, binding, rating and imports with known ID numbers,
 * names and phones, none of those raw values appears in any text/bytea/jsonb/array column of any
 * table, in the logs captured during the run, or in job data. Nothing in this service enqueues
 * BullMQ jobs (changes reach the aggregator through the outbox), so job data is the outbox payloads,
 * scanned with the tables and also checked to be non-empty.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Database } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { importEmployees, importEmployers, importMedia, readCsv } from '@ridetally/registry';
import { insertTap, makeIdNumber, testClock, testKeyring } from '@ridetally/registry/testing';
import { startRiderApp, type RiderHarness } from './testing/rider-test-kit';

let tdb: TestDatabase;
let api: RiderHarness;
const keyring = testKeyring();
const clock = testClock('2022-09-02T12:00:00+08:00');

const people = [
  { id: makeIdNumber('141102', '19750312', 417), name: '司马相如', phone: '13912345678', newName: '司马长卿', newPhone: '13987654321' },
  { id: makeIdNumber('141123', '19880228', 523), name: '欧阳丽娜', phone: '15034567890' },
  { id: makeIdNumber('141181', '19921111', 631), name: '诸葛孔明', phone: '18611112222' },
];
const rosterOnly = { id: makeIdNumber('141102', '19700707', 777), name: '上官婉儿' };
const badId = people[0]!.id.slice(0, 17) + (people[0]!.id[17] === '3' ? '4' : '3');

/** Every raw value that must never be stored or logged in clear (ID numbers also lower-case). */
const secrets = [
  ...people.flatMap((p) => [p.id, p.id.toLowerCase(), p.name, p.phone, p.newName ?? '', p.newPhone ?? '']),
  rosterOnly.id,
  rosterOnly.name,
  badId,
].filter((s) => s !== '');

interface Hit {
  table: string;
  column: string;
  value: string;
}

/** Searches every text-like, jsonb, array and bytea column of every table for the values. */
async function scanDatabase(db: Database, values: string[]): Promise<Hit[]> {
  const { rows: columns } = await sql<{ table_name: string; column_name: string; data_type: string }>`
    SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
    WHERE c.table_schema = 'public'
      AND c.data_type IN ('text', 'character varying', 'character', 'bytea', 'jsonb', 'json', 'ARRAY', 'USER-DEFINED', 'tstzrange', 'daterange')
    ORDER BY 1, 2`.execute(db);
  const hits: Hit[] = [];
  for (const c of columns) {
    const table = sql.table(c.table_name);
    const column = sql.ref(c.column_name);
    const match =
      c.data_type === 'bytea'
        ? sql`position(convert_to(scan_needle, 'UTF8') in ${column}) > 0 OR encode(${column}, 'escape') LIKE '%' || scan_needle || '%'`
        : sql`${column}::text LIKE '%' || scan_needle || '%'`;
    const { rows } = await sql<{ scan_needle: string }>`
      SELECT scan_needle FROM unnest(${values}::text[]) AS scan_needle WHERE EXISTS (SELECT 1 FROM ${table} WHERE ${match})`.execute(db);
    for (const r of rows) hits.push({ table: c.table_name, column: c.column_name, value: r.scan_needle });
  }
  return hits;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await startRiderApp(tdb.db, keyring, clock.now);
});
afterAll(async () => {
  await api.close();
  await tdb.drop();
});

describe('privacy scan', () => {
  it('the scanner finds a planted value in a text column and in a bytea column (it can fail)', async () => {
    await sql`CREATE TABLE scan_canary (t text, b bytea, j jsonb)`.execute(tdb.db);
    await sql`INSERT INTO scan_canary VALUES ('x 司马相如 y', convert_to('13912345678', 'UTF8'), '{"a": ["zz"]}')`.execute(tdb.db);
    const hits = await scanDatabase(tdb.db, ['司马相如', '13912345678', 'zz']);
    expect(hits).toEqual([
      { table: 'scan_canary', column: 'b', value: '13912345678' },
      { table: 'scan_canary', column: 'j', value: 'zz' },
      { table: 'scan_canary', column: 't', value: '司马相如' },
    ]);
    await sql`DROP TABLE scan_canary`.execute(tdb.db);
  });

  it('no raw ID number, name or phone is stored, logged or put in job data', async () => {
    const deps = { db: tdb.db, keyring, now: clock.now };
    // Roster imports (one refused, then valid ones).
    await importEmployers(deps, readCsv(Buffer.from('code,name,type,city_area\nE1,市财政局,agency,true\n')));
    const refused = await importEmployees(
      deps,
      readCsv(Buffer.from(`id_number,name,employer_code,in_service_from,in_service_to\n${badId},${people[0]!.name},E1,2022-01-01,\n`)),
    );
    expect(refused.applied).toBe(false);
    expect(JSON.stringify(refused)).not.toContain(badId);
    const roster = [people[0]!, people[1]!, rosterOnly].map((p) => `${p.id},${p.name},E1,2022-01-01,`).join('\n');
    expect((await importEmployees(deps, readCsv(Buffer.from(`id_number,name,employer_code,in_service_from,in_service_to\n${roster}\n`)))).applied).toBe(true);

    // App registration, re-registration with a new name and phone, a refused registration.
    const ids: string[] = [];
    for (const p of people) {
      const r = await api.call('POST', '/v1/persons', { idNumber: p.id, name: p.name, phone: p.phone });
      expect([200, 201]).toContain(r.status);
      ids.push(r.body.personId!);
    }
    await api.call('POST', '/v1/persons', { idNumber: people[0]!.id.toLowerCase(), name: people[0]!.newName, phone: people[0]!.newPhone });
    expect((await api.call('POST', '/v1/persons', { idNumber: badId, name: people[0]!.name, phone: people[0]!.phone })).status).toBe(400);

    // Bindings: ID cards (by number and as self), a card; a refused foreign ID card.
    expect((await api.call('POST', `/v1/persons/${ids[0]!}/media`, { type: 'id_card', id: people[0]!.id, validFrom: '2022-08-01' })).status).toBe(201);
    expect((await api.call('POST', `/v1/persons/${ids[1]!}/media`, { type: 'id_card', id: 'self', validFrom: '2022-08-01' })).status).toBe(201);
    expect((await api.call('POST', `/v1/persons/${ids[2]!}/media`, { type: 'id_card', id: people[0]!.id })).status).toBe(422);
    const media = `id_number,media_type,media_kind,media_id,valid_from,valid_to\n${people[2]!.id},id_card,,${people[2]!.id},2022-08-01,\n${people[2]!.id},transit_card,normal,C-9,2022-08-01,\n`;
    expect((await importMedia(deps, readCsv(Buffer.from(media)))).applied).toBe(true);

    // An ID-card tap (stored as the ingest service stores it: hash + ciphertext) and its rating.
    const tapId = await insertTap(tdb.db, { tappedAt: '2022-09-01T08:00:00+08:00', mediaType: 'id_card', mediaKey: keyring.hashIdNumber(people[0]!.id) });
    await sql`UPDATE taps SET media_ciphertext = ${keyring.encrypt('pii', people[0]!.id)} WHERE tap_id = ${tapId}`.execute(tdb.db);
    expect((await api.call('POST', `/v1/rides/${tapId}/rating`, { personId: ids[0], score: 5, ratedAt: '2022-09-01T09:00:00+08:00' })).status).toBe(201);
    expect((await api.call('GET', `/v1/persons/${ids[0]!}/rides?from=2022-09-01&to=2022-09-01`)).body.rides).toHaveLength(1);
    expect((await api.call('DELETE', `/v1/persons/${ids[0]!}/media/id_card/self?validTo=2022-12-31`)).status).toBe(200);

    // Job data: this service hands work to the aggregator through the outbox only.
    const { rows: outbox } = await sql<{ topic: string }>`SELECT DISTINCT topic FROM outbox ORDER BY topic`.execute(tdb.db);
    expect(outbox.map((o) => o.topic)).toEqual(['person', 'rating']);

    expect(await scanDatabase(tdb.db, secrets)).toEqual([]);
    const logText = api.logs.join('');
    expect(logText).toContain('"msg":"request"');
    for (const s of secrets) expect(logText.includes(s), 'a raw value in the logs').toBe(false);
  });
});
