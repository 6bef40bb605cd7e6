/**
 * The console's extra staff endpoints against real PostgreSQL: dashboard summary, registry views
 * and the office's anomaly review, with their role checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCounts, startConsoleHarness, type ConsoleHarness } from './console-harness';

let h: ConsoleHarness;

beforeAll(async () => {
  h = await startConsoleHarness('2023-01-18T09:00:00+08:00', { browser: false });
}, 60_000);
afterAll(async () => {
  await h?.close();
});

describe('dashboard summary', () => {
  it("sums today's and this month's boardings in Shanghai days and reports ingest health", async () => {
    const db = h.db.db;
    await db.insertInto('routes').values([{ route_id: 'R1', is_city: true }, { route_id: 'R9', is_city: false }]).execute();
    await db.insertInto('volume_daily').values([
      { service_date: '2023-01-18', route_id: 'R1', boardings: 1200, taps: 1250 },
      { service_date: '2023-01-18', route_id: 'R9', boardings: 34, taps: 34 },
      { service_date: '2023-01-02', route_id: 'R1', boardings: 5000, taps: 5100 },
      { service_date: '2022-12-31', route_id: 'R1', boardings: 999, taps: 999 }, // last month: not counted
    ]).execute();
    await db.insertInto('ingest_batches').values([
      { received_at: '2023-01-18T08:30:00+08:00', tap_count: 3600 }, // within the hour
      { received_at: '2023-01-18T07:59:00+08:00', tap_count: 500 }, // older
    ]).execute();
    await db.insertInto('quarantined_taps').values([
      { device_id: 'D1', seq: 1, received_at: '2023-01-18T00:10:00+08:00', code: 'implausible_time', message: 'x', payload: '{}' },
      { device_id: 'D1', seq: 2, received_at: '2023-01-17T23:50:00+08:00', code: 'implausible_time', message: 'x', payload: '{}' }, // yesterday in Shanghai
    ]).execute();
    const secret = Buffer.from('not-a-real-secret');
    await db.insertInto('devices').values([
      { device_id: 'D1', secret_ciphertext: secret, last_seen_at: '2023-01-18T08:59:00+08:00' },
      { device_id: 'D2', secret_ciphertext: secret, last_seen_at: '2023-01-16T08:00:00+08:00' }, // silent
      { device_id: 'D3', secret_ciphertext: secret, last_seen_at: null }, // never seen: silent
      { device_id: 'D4', secret_ciphertext: secret, status: 'revoked', last_seen_at: null }, // revoked: not counted
    ]).execute();

    const r = await h.api(h.staff.assessor, 'GET', '/api/console/dashboard');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      today: { date: '2023-01-18', boardings: 1234 },
      month: { month: '2023-01', boardings: 6234 },
      year: 2023,
      ingest: { tapsLastHour: 3600, tapsPerSecond: 1, rejectedToday: 1, activeDevices: 3, silentDevices: 2 },
    });
  });

  it('lists the registry for any signed-in role, devices without secrets', async () => {
    await seedCounts(h, '2022-Q3', [{ name: '张三丰', rides: 3 }]);
    const employers = await h.api<unknown[]>(h.staff.admin, 'GET', '/api/console/registry/employers');
    expect(employers.json).toEqual([{ code: 'E001', name: '吕梁市交通运输局', type: 'agency', cityArea: true }]);
    const routes = await h.api<unknown[]>(h.staff.eco, 'GET', '/api/console/registry/routes');
    expect(routes.json).toEqual([{ routeId: 'R1', shortName: null, longName: null, isCity: true }, { routeId: 'R9', shortName: null, longName: null, isCity: false }]);
    const devices = await h.api<Record<string, unknown>[]>(h.staff.operator, 'GET', '/api/console/registry/devices');
    expect(devices.json.map((d) => [d.deviceId, d.status])).toEqual([['D1', 'active'], ['D2', 'active'], ['D3', 'active'], ['D4', 'revoked']]);
    expect(JSON.stringify(devices.json)).not.toContain('secret');
    const anonymous = await fetch(`${h.url}/api/console/registry/devices`);
    expect(anonymous.status).toBe(401);
  });
});

describe('anomaly review (R13)', () => {
  let personId = '';
  it('lists anomalies with masked names for the office, and not for the eco bureau', async () => {
    personId = (await seedCounts(h, '2022-Q4', [{ name: '欧阳娜娜', rides: 40 }, { name: '李四', rides: 12 }]))[0] ?? '';
    await h.db.db.insertInto('anomalies').values([
      { kind: 'rides_per_day', person_id: personId, period: '2022-Q4', key: 'k1', details: JSON.stringify({ date: '2022-11-02', rides: 14 }) },
      { kind: 'two_vehicles', person_id: personId, period: '2022-Q4', key: 'k2', details: JSON.stringify({ gapSeconds: 31 }) },
    ]).execute();
    const r = await h.api<{ id: number; kind: string; nameMasked: string; status: string }[]>(h.staff.office, 'GET', '/api/anomalies?status=open');
    expect(r.status).toBe(200);
    expect(r.json.map((a) => [a.kind, a.nameMasked, a.status]).sort()).toEqual([['rides_per_day', '欧**娜', 'open'], ['two_vehicles', '欧**娜', 'open']]);
    expect(JSON.stringify(r.json)).not.toContain('欧阳娜娜');
    expect((await h.api(h.staff.eco, 'GET', '/api/anomalies')).status).toBe(403);
    expect((await h.api(h.staff.office, 'GET', '/api/anomalies?kind=nonsense')).status).toBe(400);
  });

  it('dismisses one with a reason (office only, once), audited', async () => {
    const list = await h.api<{ id: number; kind: string }[]>(h.staff.office, 'GET', '/api/anomalies?kind=two_vehicles');
    const id = list.json[0]!.id;
    expect((await h.api(h.staff.operator, 'POST', `/api/anomalies/${id}/dismiss`, { reason: 'x' })).status).toBe(403);
    expect((await h.api(h.staff.office, 'POST', `/api/anomalies/${id}/dismiss`, {})).status).toBe(400);
    const r = await h.api<{ status: string; reviewReason: string; reviewedBy: string }>(h.staff.office, 'POST', `/api/anomalies/${id}/dismiss`, { reason: '换乘时两台刷卡机时钟不同步' });
    expect(r.json).toMatchObject({ status: 'dismissed', reviewReason: '换乘时两台刷卡机时钟不同步', reviewedBy: h.staff.office.username });
    expect((await h.api(h.staff.office, 'POST', `/api/anomalies/${id}/dismiss`, { reason: 'again' })).status).toBe(409);
    const audit = await h.api<{ action: string; subject: string }[]>(h.staff.auditor, 'GET', `/api/audit?subject=anomaly:${id}`);
    expect(audit.json.map((a) => a.action)).toEqual(['anomaly.dismiss']);
  });

  it('excludes the person: before any list the live ranking loses them; with a list, a new version', async () => {
    const list = await h.api<{ id: number }[]>(h.staff.office, 'GET', '/api/anomalies?kind=rides_per_day');
    const id = list.json[0]!.id;
    const r = await h.api<{ exclusionId: number; newVersion: unknown }>(h.staff.office, 'POST', `/api/anomalies/${id}/exclude`, { reason: '代刷卡，经核实' });
    expect(r.status).toBe(201);
    expect(r.json.newVersion).toBe(null);
    const live = await h.api<{ rows: { personId: string }[] }>(h.staff.office, 'GET', '/api/rankings?period=2022-Q4');
    expect(live.json.rows.map((x) => x.personId)).not.toContain(personId);
    const after = await h.api<{ status: string }[]>(h.staff.office, 'GET', '/api/anomalies?kind=rides_per_day');
    expect(after.json[0]!.status).toBe('excluded');
    expect((await h.api(h.staff.office, 'POST', `/api/anomalies/${id}/exclude`, { reason: 'again' })).status).toBe(409);
  });

  it('with a current list, the exclusion freezes a new version without the person', async () => {
    const [other] = await seedCounts(h, '2022-Q2', [{ name: '王小五', rides: 9 }, { name: '赵六', rides: 4 }]);
    await h.db.db.insertInto('anomalies').values({ kind: 'rides_per_day', person_id: other!, period: '2022-Q2', key: 'k3', details: '{}' }).execute();
    const created = await h.api(h.staff.operator, 'POST', '/api/snapshots', { period: '2022-Q2' });
    expect(created.status).toBe(201);
    const id = (await h.api<{ id: number; personId: string }[]>(h.staff.office, 'GET', '/api/anomalies?period=2022-Q2')).json[0]!.id;
    const r = await h.api<{ newVersion: { snapshotId: string; version: number } }>(h.staff.office, 'POST', `/api/anomalies/${id}/exclude`, { reason: '同一人两张卡' });
    expect(r.status).toBe(201);
    expect(r.json.newVersion.version).toBe(2);
    const v2 = await h.api<{ rows: { personId: string }[]; supersedes: string }>(h.staff.office, 'GET', `/api/snapshots/${r.json.newVersion.snapshotId}`);
    expect(v2.json.rows.map((x) => x.personId)).not.toContain(other);
    expect(v2.json.supersedes).toBe(created.json.snapshotId);
  });
});
