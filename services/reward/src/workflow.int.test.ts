/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-assignment -- HTTP bodies are asserted by value */
/**
 * R10-R13 end to end against real PostgreSQL: a quarter and a year go through snapshot, review,
 * notice, objections, correction versions, exclusion and payment, with the clock injected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '@ridetally/db';
import { seedPersons, setCounts, startRewardTestKit, type FixturePerson, type RewardTestKit } from './testing/reward-test-kit';

let kit: RewardTestKit;
let operator: string;
let office: string;
let eco: string;

beforeAll(async () => {
  kit = await startRewardTestKit();
  operator = (await kit.userWithRoles(['operator'])).token;
  office = (await kit.userWithRoles(['office'])).token;
  eco = (await kit.userWithRoles(['eco_bureau'])).token;
});
afterAll(async () => {
  await kit?.close();
});

/** Moves the clock; sessions last 12 hours, so everyone logs in again. */
async function at(iso: string): Promise<void> {
  kit.clock.set(iso);
  operator = (await kit.userWithRoles(['operator'])).token;
  office = (await kit.userWithRoles(['office'])).token;
  eco = (await kit.userWithRoles(['eco_bureau'])).token;
}

describe('quarterly list 2022-Q3', () => {
  let people: FixturePerson[];
  let v1: string;
  let v1Sha: string;

  it('is refused before the quarter is over plus 10 days grace (R12)', async () => {
    people = await seedPersons(kit, ['张三丰', '李四', '王小五', '欧阳娜娜', '赵六']);
    await setCounts(kit, '2022-Q3', [10, 8, 8, 5, 1].map((rides, i) => ({ personId: people[i]!.personId, rides, lastCountedAt: `2022-09-${10 + i}T08:00:00+08:00` })));
    await at('2022-10-10T23:59:59+08:00');
    const early = await kit.api(operator, 'POST', '/api/snapshots', { period: '2022-Q3' });
    expect(early.status).toBe(409);
    expect(early.json.error.details.code).toBe('period_not_closed');
    // live rankings exist meanwhile
    const live = await kit.api(operator, 'GET', '/api/rankings?period=2022-Q3');
    expect(live.status).toBe(200);
    expect(live.json.rows.map((r: { rank: number }) => r.rank)).toEqual([1, 2, 2, 4, 5]);
  });

  it('freezes the list with rules version, tie policy, cut-off and hash once closed', async () => {
    await at('2022-10-11T00:00:00+08:00');
    const r = await kit.api(operator, 'POST', '/api/snapshots', { period: '2022-Q3', tiePolicy: 'shared' });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ kind: 'quarterly', period: '2022-Q3', version: 1, status: 'draft', tiePolicy: 'shared', rulesVersion: '2022.default', rowCount: 5 });
    expect(r.json.dataCutoff).toBe('2022-10-10T16:00:00.000Z');
    v1 = r.json.snapshotId;
    v1Sha = r.json.contentSha256;
    const again = await kit.api(operator, 'POST', '/api/snapshots', { period: '2022-Q3' });
    expect(again.status).toBe(409);
    const detail = await kit.api(operator, 'GET', `/api/snapshots/${v1}`);
    expect(detail.json.rows.map((x: { nameMasked: string; rank: number }) => [x.nameMasked, x.rank])).toEqual([
      ['张*丰', 1], ['李*', 2], ['王*五', 2], ['欧**娜', 4], ['赵*', 5],
    ]);
    expect(detail.json.rows[0].employerCode).toBe('E001');
  });

  it('keeps its hash when late taps change the live counts, and reports the drift', async () => {
    await setCounts(kit, '2022-Q3', [{ personId: people[4]!.personId, rides: 20, lastCountedAt: '2022-09-30T20:00:00+08:00' }]);
    const detail = await kit.api(operator, 'GET', `/api/snapshots/${v1}`);
    expect(detail.json.contentSha256).toBe(v1Sha);
    expect(detail.json.rows.find((x: { personId: string }) => x.personId === people[4]!.personId).rides).toBe(1);
    const verify = await kit.api(operator, 'GET', `/api/snapshots/${v1}/verify`);
    expect(verify.json).toMatchObject({ ok: true, storedSha256: v1Sha, computedSha256: v1Sha });
    const drift = await kit.api(office, 'GET', `/api/snapshots/${v1}/drift`);
    expect(drift.json.drifted).toBe(true);
    expect(drift.json.changedRows).toEqual([{ personId: people[4]!.personId, snapshotRides: 1, liveRides: 20, snapshotRank: 5, liveRank: 1 }]);
  });

  it('goes submit → return (reason required) → correction → submit → approve → notice → objection → final', async () => {
    expect((await kit.api(office, 'POST', `/api/snapshots/${v1}/approve`, {})).status).toBe(409); // a draft
    expect((await kit.api(operator, 'POST', `/api/snapshots/${v1}/submit`, {})).json.status).toBe('submitted');
    expect((await kit.api(office, 'POST', `/api/snapshots/${v1}/return`, {})).status).toBe(400);
    const ret = await kit.api(office, 'POST', `/api/snapshots/${v1}/return`, { reason: '赵六 has late rides; regenerate' });
    expect(ret.json.status).toBe('returned');

    const corr = await kit.api(operator, 'POST', `/api/snapshots/${v1}/corrections`, { reason: 'late uploads from V0123' });
    expect(corr.status).toBe(201);
    expect(corr.json).toMatchObject({ version: 2, supersedes: v1, status: 'draft' });
    expect(corr.json.contentSha256).not.toBe(v1Sha);
    const v2 = corr.json.snapshotId as string;
    const old = await kit.api(operator, 'GET', `/api/snapshots/${v1}`);
    expect(old.json.status).toBe('superseded');
    expect(old.json.contentSha256).toBe(v1Sha);
    expect((await kit.api(operator, 'POST', `/api/snapshots/${v1}/submit`, {})).status).toBe(409);

    expect((await kit.api(operator, 'POST', `/api/snapshots/${v2}/submit`, {})).json.status).toBe('submitted');
    expect((await kit.api(office, 'POST', `/api/snapshots/${v2}/approve`, { reason: 'checked' })).json.status).toBe('approved');
    await at('2022-10-12T09:30:00+08:00');
    const pub = await kit.api(office, 'POST', `/api/snapshots/${v2}/publish`, {});
    expect(pub.json).toMatchObject({ status: 'in_notice', noticeStart: '2022-10-12', noticeEnd: '2022-10-18' });

    const obj = await kit.api(office, 'POST', `/api/snapshots/${v2}/objections`, { personId: people[1]!.personId, text: '李四 says two rides are missing' });
    expect(obj.status).toBe(201);
    await at('2022-10-18T23:00:00+08:00');
    const tooEarly = await kit.api(office, 'POST', `/api/snapshots/${v2}/finalize`, {});
    expect(tooEarly.status).toBe(409);
    await at('2022-10-19T00:00:00+08:00');
    const open = await kit.api(office, 'POST', `/api/snapshots/${v2}/finalize`, {});
    expect(open.status).toBe(409);
    expect(open.json.error.details.openObjections).toBe(1);
    const resolved = await kit.api(office, 'POST', `/api/objections/${obj.json.id}/resolve`, { resolution: 'rides were unrated (R5); list stands' });
    expect(resolved.json.resolvedBy).toBeTruthy();
    expect((await kit.api(office, 'POST', `/api/objections/${obj.json.id}/resolve`, { resolution: 'again' })).status).toBe(409);
    const fin = await kit.api(office, 'POST', `/api/snapshots/${v2}/finalize`, { reason: 'notice over' });
    expect(fin.json.status).toBe('final');

    const detail = await kit.api(office, 'GET', `/api/snapshots/${v2}`);
    expect(detail.json.transitions.map((t: { to: string }) => t.to)).toEqual(['draft', 'submitted', 'approved', 'in_notice', 'final']);
    expect(detail.json.rows[0]).toMatchObject({ nameMasked: '赵*', rides: 20, rank: 1 });
    // the quarterly list is not paid
    expect((await kit.api(eco, 'POST', `/api/snapshots/${v2}/payments`, { personId: people[0]!.personId })).status).toBe(409);
  });
});

describe('annual award list 2022', () => {
  let people: FixturePerson[];

  it('awards rank ≤ 2000 with ≥ 300 rides, takes an exclusion as a new version, and is paid', async () => {
    people = await seedPersons(kit, ['孙一', '周二', '吴三', '郑四', '冯五'], { code: 'E002', name: '吕梁市第一中学' });
    await setCounts(kit, '2022', [400, 350, 300, 299, 300].map((rides, i) => ({ personId: people[i]!.personId, rides, lastCountedAt: `2022-12-${10 + i}T08:00:00+08:00` })));
    await at('2023-01-10T12:00:00+08:00');
    expect((await kit.api(operator, 'POST', '/api/snapshots', { period: '2022' })).status).toBe(409);
    await at('2023-01-11T08:00:00+08:00');
    const v1 = await kit.api(operator, 'POST', '/api/snapshots', { period: '2022', tiePolicy: 'first-reached' });
    expect(v1.status).toBe(201);
    const d1 = await kit.api(operator, 'GET', `/api/snapshots/${v1.json.snapshotId}`);
    // 299 rides is off; the two with 300 are ordered by their last counted ride (first-reached)
    expect(d1.json.rows.map((r: { rides: number; rank: number; awardCny: number }) => [r.rides, r.rank, r.awardCny])).toEqual([
      [400, 1, 2000], [350, 2, 2000], [300, 3, 2000], [300, 4, 2000],
    ]);
    expect(d1.json.totals).toMatchObject({ persons: 4, totalCny: 8000 });

    const ex = await kit.api(office, 'POST', `/api/snapshots/${v1.json.snapshotId}/exclusions`, { personId: people[1]!.personId, reason: 'R13: 14 rides on 2022-06-01 on one card' });
    expect(ex.status).toBe(201);
    expect(ex.json.newVersion).toMatchObject({ version: 2, supersedes: v1.json.snapshotId, rowCount: 3 });
    const outbox = await kit.db.db.selectFrom('outbox').selectAll().where('topic', '=', 'exclusion').execute();
    expect(outbox.map((o) => o.payload)).toEqual([{ personId: people[1]!.personId, period: '2022' }]);
    const v2 = ex.json.newVersion.snapshotId as string;

    expect((await kit.api(operator, 'POST', `/api/snapshots/${v2}/submit`, {})).status).toBe(200);
    expect((await kit.api(office, 'POST', `/api/snapshots/${v2}/approve`, {})).status).toBe(200);
    expect((await kit.api(office, 'POST', `/api/snapshots/${v2}/publish`, {})).json.noticeEnd).toBe('2023-01-17');
    // payments only on a final list
    expect((await kit.api(eco, 'POST', `/api/snapshots/${v2}/payments`, { personId: people[0]!.personId })).status).toBe(409);
    await at('2023-01-18T08:00:00+08:00');
    expect((await kit.api(office, 'POST', `/api/snapshots/${v2}/finalize`, {})).json.status).toBe('final');

    const ceremony = await kit.api(office, 'GET', `/api/snapshots/${v2}/ceremony`);
    expect(ceremony.json.rows).toHaveLength(3);

    expect((await kit.api(eco, 'POST', `/api/snapshots/${v2}/payments`, { personId: people[0]!.personId, amountCny: 1000 })).status).toBe(400);
    expect((await kit.api(eco, 'POST', `/api/snapshots/${v2}/payments`, { personId: people[1]!.personId })).status).toBe(404);
    const paid = [people[0]!, people[2]!, people[4]!];
    for (const [i, p] of paid.entries()) {
      const r = await kit.api(eco, 'POST', `/api/snapshots/${v2}/payments`, { personId: p.personId, reference: `BANK-${i}` });
      expect(r.status).toBe(201);
      expect(r.json.status).toBe(i === 2 ? 'paid' : 'final');
    }
    expect((await kit.api(eco, 'POST', `/api/snapshots/${v2}/payments`, { personId: people[0]!.personId })).status).toBe(409);
    const final = await kit.api(eco, 'GET', `/api/snapshots/${v2}`);
    expect(final.json.status).toBe('paid');
    expect(final.json.transitions.at(-1)).toMatchObject({ from: 'final', to: 'paid' });
  });

  it('keeps every transition in an intact audit chain', async () => {
    const v = await verifyAuditChain(kit.db.db);
    expect(v.ok).toBe(true);
    expect(v.checked).toBeGreaterThan(20);
    const actions = (await kit.db.db.selectFrom('audit_log').select('action').execute()).map((a) => a.action);
    for (const a of ['snapshot.create', 'snapshot.submit', 'snapshot.return', 'snapshot.correct', 'snapshot.approve', 'snapshot.publish', 'objection.record', 'objection.resolve', 'snapshot.finalize', 'exclusion.create', 'payment.record', 'snapshot.paid']) {
      expect(actions).toContain(a);
    }
  });
});
