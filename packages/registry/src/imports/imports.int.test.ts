import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findEmploymentsOfPersons, findRoutes, findVehicles, sql } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { registerPerson } from '../person.service';
import { registerVehicle, setRouteCityFlag } from '../route.service';
import { makeIdNumber, outboxEntries, testClock, testKeyring } from '../testing/registry-test-kit';
import { importEmployees } from './employees.import';
import { importEmployers } from './employers.import';
import { importGtfs } from './gtfs.import';
import { importMedia } from './media.import';
import { readCsv, readTableFile } from './table-reader';

let tdb: TestDatabase;
let dir: string;
const keyring = testKeyring();
const clock = testClock('2023-03-01T00:00:00+08:00');
const deps = () => ({ db: tdb.db, keyring, now: clock.now });

const ID_A = makeIdNumber('141102', '19800101', 11);
const ID_B = makeIdNumber('141102', '19850505', 22);
const ID_C = makeIdNumber('141102', '19900909', 33);

function csv(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function xlsx(name: string, rows: unknown[][]): Promise<string> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('roster');
  for (const r of rows) ws.addRow(r);
  wb.addWorksheet('ignored').addRow(['not', 'read']);
  const path = join(dir, name);
  await wb.xlsx.writeFile(path);
  return path;
}

async function counts() {
  const { rows } = await sql<{ persons: number; employments: number; employers: number; bindings: number; outbox: number }>`
    SELECT (SELECT count(*)::int FROM persons) AS persons, (SELECT count(*)::int FROM employments) AS employments,
           (SELECT count(*)::int FROM employers) AS employers, (SELECT count(*)::int FROM media_bindings) AS bindings,
           (SELECT count(*)::int FROM outbox) AS outbox`.execute(tdb.db);
  return rows[0]!;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'rt-imports-'));
});
afterAll(async () => {
  await tdb.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('table reader', () => {
  it('drops a BOM and numbers rows by the line they start on (quoted line breaks)', () => {
    const t = readCsv(Buffer.from('\uFEFFcode,name\nA,"two\nlines"\n\nB,plain\n'));
    expect(t.header).toEqual(['code', 'name']);
    expect(t.rows.map((r) => [r.line, r.cells[0]])).toEqual([
      [2, 'A'],
      [5, 'B'],
    ]);
  });
});

describe('import employers', () => {
  it('refuses the whole file when any row is bad, naming each line and why (CSV)', async () => {
    const path = csv(
      'employers-bad.csv',
      '\uFEFFcode,name,type,city_area\nE1,市财政局,agency,true\nE2,某公司,company,true\nE3,学校,institution,maybe\nE1,重复,soe,false\n',
    );
    const r = await importEmployers(deps(), await readTableFile(path));
    expect(r.applied).toBe(false);
    expect(r.problems).toEqual([
      { line: 3, message: 'type must be one of agency, institution, soe, other' },
      { line: 4, message: 'city_area must be true or false' },
      { line: 5, message: 'code E1 is also on line 2' },
    ]);
    expect((await counts()).employers).toBe(0);
  });

  it('refuses a file with missing or unknown columns on line 1', async () => {
    const r = await importEmployers(deps(), readCsv(Buffer.from('code,name,kind\nE1,x,agency\n')));
    expect(r.problems).toEqual([
      { line: 1, message: 'unknown column "kind" (expected code,name,type,city_area)' },
      { line: 1, message: 'missing column "type"' },
      { line: 1, message: 'missing column "city_area"' },
    ]);
  });

  it('imports, and re-importing the same file changes nothing', async () => {
    const path = csv('employers.csv', 'code,name,type,city_area\nE1,市财政局,agency,true\nE2,市医院,institution,true\nE3,城郊公司,soe,false\nE4,民营企业,other,true\n');
    const first = await importEmployers(deps(), await readTableFile(path));
    expect(first).toMatchObject({ applied: true, changes: { created: 4, updated: 0, unchanged: 0 } });
    const before = await counts();
    const again = await importEmployers(deps(), await readTableFile(path));
    expect(again).toMatchObject({ applied: true, changes: { created: 0, updated: 0, unchanged: 4 } });
    expect(await counts()).toEqual(before);
  });

  it('announces a type or city-area change to the aggregator, not a rename', async () => {
    const outboxBefore = (await counts()).outbox;
    const r = await importEmployers(deps(), readCsv(Buffer.from('code,name,type,city_area\nE1,市财政局（新名）,agency,true\nE3,城郊公司,soe,true\n')));
    expect(r.changes).toEqual({ created: 0, updated: 2, unchanged: 0 });
    const added = (await outboxEntries(tdb.db)).slice(outboxBefore);
    expect(added).toEqual([{ topic: 'employer', payload: { code: 'E3' } }]);
  });
});

describe('import employees', () => {
  it('refuses the whole XLSX when any row is bad, with row numbers as Excel shows them', async () => {
    const path = await xlsx('employees-bad.xlsx', [
      ['id_number', 'name', 'employer_code', 'in_service_from', 'in_service_to'],
      [ID_A, '张三丰', 'E1', '2022-01-01', ''],
      [ID_B.slice(0, 17) + (ID_B[17] === '1' ? '2' : '1'), '李四', 'E1', '2022-01-01', ''],
      [123456789012345680, '王五', 'E1', '2022-01-01', ''],
      [ID_C, '赵六', 'NOPE', '2022-01-01', ''],
      [ID_C, '赵六', 'E2', '2022-13-01', ''],
      [ID_A, '张三丰', 'E2', '2022-06-01', '2022-12-31'],
    ]);
    const r = await importEmployees(deps(), await readTableFile(path));
    expect(r.applied).toBe(false);
    expect(r.problems).toEqual([
      { line: 3, message: 'ID number check character does not match (GB 11643)' },
      { line: 4, message: 'id_number is stored as a number in the spreadsheet and has lost digits: format the column as text' },
      { line: 5, message: 'unknown employer_code "NOPE" (import employers first)' },
      { line: 6, message: 'in_service_from must be a date yyyy-MM-dd' },
      { line: 7, message: 'in-service interval overlaps the one on line 2 for the same ID number' },
    ]);
    expect(await counts()).toMatchObject({ persons: 0, employments: 0 });
    // No problem message carries an ID number or a name.
    expect(JSON.stringify(r)).not.toMatch(/\d{17}[\dX]|张三丰|赵六/);
  });

  it('imports a person who changes employer mid-year (XLSX with date cells), idempotently', async () => {
    const path = await xlsx('employees.xlsx', [
      ['id_number', 'name', 'employer_code', 'in_service_from', 'in_service_to'],
      [ID_A, '张三丰', 'E1', new Date(Date.UTC(2022, 0, 1)), new Date(Date.UTC(2022, 5, 30))],
      [ID_A, '张三丰', 'E2', '2022-07-01', ''],
      [ID_B, '李四', 'E4', '2020-03-01', ''],
    ]);
    const first = await importEmployees(deps(), await readTableFile(path));
    expect(first).toMatchObject({ applied: true, changes: { personsCreated: 2, employmentsInserted: 3, employmentsDeleted: 0 } });
    const { rows } = await sql<{ person_id: string }>`SELECT person_id FROM persons WHERE id_hash = ${keyring.hashIdNumber(ID_A)}`.execute(tdb.db);
    const personA = rows[0]!.person_id;
    const employments = await findEmploymentsOfPersons(tdb.db, [personA]);
    expect(employments.map((e) => [e.employer_code, e.from, e.to])).toEqual([
      ['E1', '2022-01-01', '2022-06-30'],
      ['E2', '2022-07-01', null],
    ]);
    const before = await counts();
    const again = await importEmployees(deps(), await readTableFile(path));
    expect(again.changes).toEqual({ personsCreated: 0, personsRenamed: 0, personsWithNewIntervals: 0, employmentsInserted: 0, employmentsDeleted: 0 });
    expect(await counts()).toEqual(before);
  });

  it('treats the file as authoritative for the persons it lists: leaving, returning', async () => {
    const outboxBefore = (await counts()).outbox;
    const r = await importEmployees(
      deps(),
      readCsv(Buffer.from(`id_number,name,employer_code,in_service_from,in_service_to\n${ID_B},李四,E4,2020-03-01,2022-08-15\n${ID_B},李四,E1,2022-10-01,\n`)),
    );
    expect(r.changes).toMatchObject({ personsWithNewIntervals: 1, employmentsInserted: 2, employmentsDeleted: 1 });
    const { rows } = await sql<{ person_id: string }>`SELECT person_id FROM persons WHERE id_hash = ${keyring.hashIdNumber(ID_B)}`.execute(tdb.db);
    const personB = rows[0]!.person_id;
    expect((await findEmploymentsOfPersons(tdb.db, [personB])).map((e) => [e.employer_code, e.from, e.to])).toEqual([
      ['E4', '2020-03-01', '2022-08-15'],
      ['E1', '2022-10-01', null],
    ]);
    // Person A, not in this file, keeps their intervals.
    expect((await counts()).employments).toBe(4);
    const added = (await outboxEntries(tdb.db)).slice(outboxBefore);
    expect(added).toEqual([{ topic: 'person', payload: { personId: personB, from: '2020-02-29T16:00:00.000Z' } }]);
  });
});

describe('import media', () => {
  it('refuses the whole file on any bad row (CSV), then binds idempotently', async () => {
    const header = 'id_number,media_type,media_kind,media_id,valid_from,valid_to\n';
    const bad = await importMedia(
      deps(),
      readCsv(
        Buffer.from(
          header +
            `${ID_A},transit_card,normal,C100,2022-01-01,\n` +
            `${ID_B},transit_card,gold,C200,2022-01-01,\n` +
            `${ID_B},transit_card,normal,C100,2022-06-01,\n` +
            `${ID_C},qr,,Q1,2022-01-01,\n` +
            `${ID_A},id_card,,${ID_B},2022-01-01,\n` +
            `${ID_A},bus_pass,,X,2022-01-01,\n`,
        ),
      ),
    );
    expect(bad.applied).toBe(false);
    expect(bad.problems).toEqual([
      { line: 3, message: 'kind of transit_card must be one of normal, senior, discount, teacher' },
      { line: 4, message: "this medium's interval overlaps the one on line 2: a medium belongs to one person at a time" },
      { line: 5, message: 'no person is registered with this id_number (import employees or register in the app first)' },
      { line: 6, message: 'an id_card can only be bound to its holder (media_id must equal id_number)' },
      { line: 7, message: 'media_type must be one of transit_card, ecard, qr, id_card' },
    ]);
    expect((await counts()).bindings).toBe(0);

    const good = Buffer.from(
      header + `${ID_A},transit_card,normal,C100,2022-01-01,2022-05-15\n${ID_B},transit_card,normal,C100,2022-06-01,\n${ID_A},id_card,,${ID_A},2022-01-01,\n`,
    );
    expect(await importMedia(deps(), readCsv(good))).toMatchObject({ applied: true, changes: { created: 3, updated: 0, unchanged: 0 } });
    const before = await counts();
    expect(await importMedia(deps(), readCsv(good))).toMatchObject({ applied: true, changes: { created: 0, updated: 0, unchanged: 3 } });
    expect(await counts()).toEqual(before);
    const { rows } = await sql<{ media_key: string }>`SELECT media_key FROM media_bindings WHERE media_type = 'id_card'`.execute(tdb.db);
    expect(rows).toEqual([{ media_key: keyring.hashIdNumber(ID_A) }]);
  });

  it('ends a binding by re-importing its row with valid_to; refuses an overlap with a stored binding', async () => {
    const header = 'id_number,media_type,media_kind,media_id,valid_from,valid_to\n';
    const ended = await importMedia(deps(), readCsv(Buffer.from(header + `${ID_B},transit_card,normal,C100,2022-06-01,2022-12-31\n`)));
    expect(ended.changes).toEqual({ created: 0, updated: 1, unchanged: 0 });
    const clash = await importMedia(deps(), readCsv(Buffer.from(header + `${ID_A},transit_card,normal,C100,2022-12-01,\n`)));
    expect(clash.applied).toBe(false);
    expect(clash.problems).toEqual([
      {
        line: 2,
        message: 'overlaps a stored binding of this medium (another person, 2022-06-01 00:00 to 2023-01-01 00:00): a medium belongs to one person at a time',
      },
    ]);
  });

  it('reads the same columns from the first sheet of an XLSX', async () => {
    await registerPerson(deps(), { idNumber: ID_C, name: '赵六' });
    const path = await xlsx('media.xlsx', [
      ['id_number', 'media_type', 'media_kind', 'media_id', 'valid_from', 'valid_to'],
      [ID_C, 'ecard', 'alipay', 'E-900', '2022-04-01', null],
      [ID_C, 'qr', 'x', 'Q-1', '2022-04-01', null],
    ]);
    const r = await importMedia(deps(), await readTableFile(path));
    expect(r.problems).toEqual([{ line: 3, message: 'qr takes no kind' }]);
  });
});

describe('import gtfs', () => {
  function feed(name: string, files: Record<string, string>): string {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
    return d;
  }
  const agency = 'agency_id,agency_name,agency_url,agency_timezone\nLLGJ,吕梁公共交通有限公司,http://example.invalid,Asia/Shanghai\n';
  const routes = '\uFEFFroute_id,agency_id,route_short_name,route_long_name,route_type\nR1,LLGJ,1路,,3\nR2,LLGJ,2路,,3\nAIR,LLGJ,机场巴士,,3\nX9,LLGJ,9路,城郊线,3\n';

  it('without networks, every imported route is city-area; a new route is announced', async () => {
    const d = feed('gtfs-plain', { 'agency.txt': agency, 'routes.txt': routes });
    const before = (await counts()).outbox;
    const r = await importGtfs(deps(), d);
    expect(r).toMatchObject({ applied: true, routes: 4, cityRoutes: 4, changes: { created: 4 } });
    const added = (await outboxEntries(tdb.db)).slice(before);
    expect(added.map((e) => e.payload)).toEqual([{ routeId: 'R1' }, { routeId: 'R2' }, { routeId: 'AIR' }, { routeId: 'X9' }]);
    expect((await importGtfs(deps(), d)).changes).toEqual({ created: 0, updated: 0, unchanged: 4 });
  });

  it('with --city-network, only that network’s routes are city-area', async () => {
    const d = feed('gtfs-networks', {
      'agency.txt': agency,
      'routes.txt': routes,
      'networks.txt': 'network_id,network_name\ncity,市区线路\nsuburb,城郊线路\n',
      'route_networks.txt': 'network_id,route_id\ncity,R1\ncity,R2\ncity,AIR\nsuburb,X9\n',
    });
    const before = (await counts()).outbox;
    const r = await importGtfs(deps(), d, { cityNetwork: 'city' });
    expect(r).toMatchObject({ applied: true, cityRoutes: 3, changes: { updated: 4 } });
    const byId = new Map((await findRoutes(tdb.db)).map((x) => [x.route_id, x]));
    expect(byId.get('X9')).toMatchObject({ is_city: false, network_id: 'suburb' });
    expect(byId.get('AIR')).toMatchObject({ is_city: true, network_id: 'city' });
    // Only the route whose flag changed is re-counted.
    expect((await outboxEntries(tdb.db)).slice(before)).toEqual([{ topic: 'route', payload: { routeId: 'X9' } }]);

    const unknown = await importGtfs(deps(), d, { cityNetwork: 'downtown' });
    expect(unknown.applied).toBe(false);
    expect(unknown.problems[0]!.message).toContain('--city-network "downtown" is not a network_id');
  });

  it('refuses a feed with bad rows, naming file and line', async () => {
    const d = feed('gtfs-bad', { 'agency.txt': agency, 'routes.txt': 'route_id,agency_id,route_short_name,route_long_name,route_type\nR1,LLGJ,,,3\nR5,OTHER,5路,,bus\n' });
    const r = await importGtfs(deps(), d);
    expect(r.applied).toBe(false);
    expect(r.problems).toEqual([
      { file: 'routes.txt', line: 2, message: 'route_short_name or route_long_name is required' },
      { file: 'routes.txt', line: 3, message: 'route_type must be a whole number (3 = bus)' },
      { file: 'routes.txt', line: 3, message: 'agency_id "OTHER" is not in agency.txt' },
    ]);
  });

  it('route set-city flips one flag and announces it', async () => {
    const before = (await counts()).outbox;
    expect(await setRouteCityFlag(deps(), 'X9', true)).toBe(true);
    expect(await setRouteCityFlag(deps(), 'X9', true)).toBe(false);
    expect((await outboxEntries(tdb.db)).slice(before)).toEqual([{ topic: 'route', payload: { routeId: 'X9' } }]);
    await expect(setRouteCityFlag(deps(), 'NOPE', true)).rejects.toThrow('no route NOPE is registered');
  });

  it('vehicle add registers a vehicle and updates plate or label without clearing the other', async () => {
    expect(await registerVehicle(deps(), { vehicleId: 'V0123', plate: '晋J·12345', label: '101' })).toEqual({ created: true });
    expect(await registerVehicle(deps(), { vehicleId: 'V0123', label: '102' })).toEqual({ created: false });
    expect(await findVehicles(tdb.db)).toEqual([{ vehicle_id: 'V0123', plate: '晋J·12345', label: '102' }]);
    await expect(registerVehicle(deps(), { vehicleId: 'bad id' })).rejects.toThrow('vehicle id must be');
  });
});
