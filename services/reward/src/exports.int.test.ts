/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- HTTP bodies are asserted by value */
/**
 * Exports against real PostgreSQL: CSV with BOM, XLSX, the public notice as HTML and as a PDF whose
 * Chinese text is extracted with pdftotext (Debian poppler-utils; the font is fonts-wqy-microhei),
 * the role-restricted payment list, and TIDES fare_transactions with pseudonymised media.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedPersons, setCounts, startRewardTestKit, type FixturePerson, type RewardTestKit } from './testing/reward-test-kit';

let kit: RewardTestKit;
let people: FixturePerson[];
let finalId: string;
let tokens: Record<'operator' | 'office' | 'eco' | 'auditor', string>;

async function login(): Promise<void> {
  tokens = {
    operator: (await kit.userWithRoles(['operator'])).token,
    office: (await kit.userWithRoles(['office'])).token,
    eco: (await kit.userWithRoles(['eco_bureau'])).token,
    auditor: (await kit.userWithRoles(['auditor'])).token,
  };
}

beforeAll(async () => {
  kit = await startRewardTestKit('2023-01-12T09:00:00+08:00');
  people = await seedPersons(kit, ['张三丰', '欧阳娜娜', '李四', '=HYPERLINK("x")']);
  await setCounts(kit, '2022', [420, 380, 310, 305].map((rides, i) => ({ personId: people[i]!.personId, rides, lastCountedAt: `2022-12-0${i + 1}T08:00:00+08:00` })));
  await login();
  const snap = await kit.api(tokens.operator, 'POST', '/api/snapshots', { period: '2022' });
  finalId = snap.json.snapshotId;
  await kit.api(tokens.operator, 'POST', `/api/snapshots/${finalId}/submit`, {});
  await kit.api(tokens.office, 'POST', `/api/snapshots/${finalId}/approve`, {});
  await kit.api(tokens.office, 'POST', `/api/snapshots/${finalId}/publish`, {});
  kit.clock.set('2023-01-19T09:00:00+08:00');
  await login();
  const fin = await kit.api(tokens.office, 'POST', `/api/snapshots/${finalId}/finalize`, {});
  expect(fin.json.status).toBe('final');
});
afterAll(async () => {
  await kit?.close();
});

describe('rankings and lists', () => {
  it('CSV is UTF-8 with BOM, with the agreed columns, and neutralises formulas', async () => {
    const r = await kit.api(tokens.operator, 'GET', '/api/rankings/export?period=2022&format=csv');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/csv/);
    expect([...r.bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = r.text.slice(1).trim().split('\r\n');
    expect(lines[0]).toBe('rank,person_id,name_masked,employer_code,rides,award_cny');
    expect(lines[1]).toBe(`1,${people[0]!.personId},张*丰,E001,420,2000`);
    expect(lines).toHaveLength(5);
    // the masked formula-looking name starts with '=' and is quoted off
    expect(lines[4]).toContain(`'=`);
  });

  it('XLSX opens with the same rows', async () => {
    const r = await kit.api(tokens.auditor, 'GET', `/api/snapshots/${finalId}/export?format=xlsx`);
    expect(r.status).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(r.bytes as unknown as ArrayBuffer);
    const ws = wb.worksheets[0]!;
    expect(ws.getRow(1).values).toEqual([undefined, 'rank', 'person_id', 'name_masked', 'employer_code', 'rides', 'award_cny', 'tie_note']);
    expect(ws.getRow(3).getCell(3).value).toBe('欧**娜');
    expect(ws.getRow(3).getCell(6).value).toBe(2000);
  });
});

describe('public notice', () => {
  it('HTML shows masked names, no ID numbers, and is public once published', async () => {
    const r = await kit.api(undefined, 'GET', `/public/notices/${finalId}`);
    expect(r.status).toBe(200);
    expect(r.text).toContain('吕梁市区免费公交 2022 年度乘车奖励名单公示');
    expect(r.text).toContain('张*丰');
    expect(r.text).toContain('吕梁市交通运输局');
    for (const p of people) {
      expect(r.text).not.toContain(p.idNumber);
      expect(r.text).not.toContain(p.personId);
    }
    expect(r.text).not.toContain('张三丰');
  });

  it('PDF renders Chinese text (extracted with pdftotext)', async () => {
    const r = await kit.api(undefined, 'GET', `/public/notices/${finalId}/pdf`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/pdf');
    expect(r.bytes.subarray(0, 5).toString()).toBe('%PDF-');
    const dir = mkdtempSync(join(tmpdir(), 'rt-notice-'));
    try {
      writeFileSync(join(dir, 'n.pdf'), r.bytes);
      const text = execFileSync('pdftotext', ['-enc', 'UTF-8', join(dir, 'n.pdf'), '-'], { encoding: 'utf8' });
      expect(text).toContain('年度乘车奖励名单公示');
      expect(text).toContain('张*丰');
      expect(text).toContain('欧**娜');
      expect(text).not.toContain('张三丰');
      for (const p of people) expect(text).not.toContain(p.idNumber);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is not public before publication', async () => {
    kit.clock.set('2023-01-19T10:00:00+08:00');
    await setCounts(kit, '2022-Q4', [{ personId: people[0]!.personId, rides: 3, lastCountedAt: '2022-11-01T08:00:00+08:00' }]);
    const q = await kit.api(tokens.operator, 'POST', '/api/snapshots', { period: '2022-Q4' });
    expect(q.status).toBe(201);
    expect((await kit.api(undefined, 'GET', `/public/notices/${q.json.snapshotId}`)).status).toBe(404);
    expect((await kit.api(tokens.office, 'GET', `/api/snapshots/${q.json.snapshotId}/notice.html`)).status).toBe(200);
  });
});

describe('payment list', () => {
  it('has full names and ID numbers, only for the ecology bureau, and is audited', async () => {
    expect((await kit.api(tokens.office, 'GET', `/api/snapshots/${finalId}/payment-list`)).status).toBe(403);
    const r = await kit.api(tokens.eco, 'GET', `/api/snapshots/${finalId}/payment-list?format=csv`);
    expect(r.status).toBe(200);
    expect(r.text).toContain('张三丰');
    expect(r.text).toContain(people[0]!.idNumber);
    const audit = await kit.db.db.selectFrom('audit_log').selectAll().where('action', '=', 'export.payment_list').execute();
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain('张三丰');
    expect(JSON.stringify(audit)).not.toContain(people[0]!.idNumber);
  });
});

describe('TIDES fare_transactions', () => {
  it('exports a date range with pseudonymised media and free boardings', async () => {
    const card = '3101000012345678';
    await kit.db.db
      .insertInto('taps')
      .values([
        { tap_id: 1, device_id: 'D1', seq: 7, tapped_at: '2022-05-09T07:41:02+08:00', received_at: '2022-05-09T07:41:05+08:00', batch_id: 1, vehicle_id: 'V0123', route_id: 'R1', stop_id: 'S12', media_type: 'transit_card', media_kind: 'normal', media_key: card },
        { tap_id: 2, device_id: 'D1', seq: 8, tapped_at: '2022-05-10T23:59:59+08:00', received_at: '2022-05-11T00:00:05+08:00', batch_id: 1, vehicle_id: 'V0123', route_id: 'R1', stop_id: null, media_type: 'qr', media_kind: null, media_key: 'app-42' },
        { tap_id: 3, device_id: 'D1', seq: 9, tapped_at: '2022-05-11T00:00:00+08:00', received_at: '2022-05-11T00:00:05+08:00', batch_id: 1, vehicle_id: 'V0123', route_id: 'R1', stop_id: null, media_type: 'qr', media_kind: null, media_key: 'app-42' },
      ])
      .execute();
    expect((await kit.api(tokens.eco, 'GET', '/api/exports/tides/fare-transactions?from=2022-05-09&to=2022-05-10')).status).toBe(403);
    expect((await kit.api(tokens.operator, 'GET', '/api/exports/tides/fare-transactions?from=2022-05-10&to=2022-05-09')).status).toBe(400);
    const r = await kit.api(tokens.operator, 'GET', '/api/exports/tides/fare-transactions?from=2022-05-09&to=2022-05-10');
    expect(r.status).toBe(200);
    const lines = r.text.trim().split('\r\n');
    expect(lines[0]!.split(',')).toContain('fare_capped');
    expect(lines).toHaveLength(3); // header + the two taps of 9 and 10 May (Shanghai)
    const header = lines[0]!.split(',');
    const first = Object.fromEntries(lines[1]!.split(',').map((v, i) => [header[i], v]));
    expect(first).toMatchObject({
      transaction_id: 'D1:7', service_date: '2022-05-09', event_timestamp: '2022-05-09T07:41:02+08:00', amount: '0', currency_type: 'CNY',
      fare_action: 'Enter', vehicle_id: 'V0123', device_id: 'D1', stop_id: 'S12', num_riders: '1', fare_media_id: 'Smart card or ticket', fare_capped: 'false',
    });
    expect(first.token_id).toBe(kit.keyring.pseudonymise('transit_card', card));
    expect(r.text).not.toContain(card);
    expect(r.text).toContain('Optical scan');
  });
});
