/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call -- HTTP bodies are asserted by value */
/** R14-R17 against real PostgreSQL: city-area volume, the volume item, assessor items, total, subsidy. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRewardTestKit, type RewardTestKit } from './testing/reward-test-kit';

let kit: RewardTestKit;
let assessor: string;
let office: string;
let eco: string;

beforeAll(async () => {
  kit = await startRewardTestKit('2023-02-01T09:00:00+08:00');
  assessor = (await kit.userWithRoles(['assessor'])).token;
  office = (await kit.userWithRoles(['office'])).token;
  eco = (await kit.userWithRoles(['eco_bureau'])).token;
  await kit.db.db
    .insertInto('routes')
    .values([
      { route_id: 'R1', short_name: '1路', is_city: true },
      { route_id: 'R9', short_name: '城际9', is_city: false },
    ])
    .execute();
  // 20,000,000 + 17,352,050 = 37,352,050 = 103.9 % of 35,950,000 on city routes; R9 does not count.
  await kit.db.db
    .insertInto('volume_daily')
    .values([
      { service_date: '2022-05-01', route_id: 'R1', boardings: 20_000_000, taps: 20_000_000 },
      { service_date: '2022-11-30', route_id: 'R1', boardings: 17_352_050, taps: 17_352_050 },
      { service_date: '2022-11-30', route_id: 'R9', boardings: 5_000_000, taps: 5_000_000 },
      { service_date: '2023-01-01', route_id: 'R1', boardings: 9_999, taps: 9_999 },
    ])
    .execute();
});
afterAll(async () => {
  await kit?.close();
});

describe('operator scoring', () => {
  it('reports city-area volume per month and year against the 2022 target', async () => {
    const r = await kit.api(eco, 'GET', '/api/assessment/2022/volume');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ target: 35_950_000, boardings: 37_352_050, completionPercent: 103.9, volumeScore: 59 });
    expect(r.json.explanation).toContain('3 whole point(s) above 100 %');
    // the same explanation as a code and its figures, for a client that says it in another language
    expect(r.json.reason).toEqual({ code: 'volume.above', params: { pct: 103.9, points: 3, base: 50, per: 3, score: 59 } });
    expect(r.json.targetSourceReason).toEqual({ code: 'target.rules', params: { rulesVersion: '2022.default' } });
    expect(r.json.monthly[4].reason).toEqual({ code: 'month.target', params: { monthTarget: 2_995_833 } });
    expect(r.json.monthly[4]).toMatchObject({ month: '2022-05', boardings: 20_000_000 });
    expect(r.json.monthly[10]).toMatchObject({ month: '2022-11', boardings: 17_352_050 });
  });

  it('takes the five items within their maxima, caps the total at 100 and links the subsidy', async () => {
    expect((await kit.api(assessor, 'PUT', '/api/assessment/2022/items/safety', { score: 15.5 })).status).toBe(400);
    for (const [item, score] of Object.entries({ safety: 15, service: 6, operations: 8, public_response: 12.5, social_responsibility: 6 })) {
      const r = await kit.api(assessor, 'PUT', `/api/assessment/2022/items/${item}`, { score, note: 'checked' });
      expect(r.status).toBe(200);
    }
    const noBudget = await kit.api(office, 'GET', '/api/assessment/2022/score');
    // 59 + 15 + 6 + 8 + 12.5 + 6 = 106.5 → capped at 100
    expect(noBudget.json).toMatchObject({ sum: 106.5, total: 100, complete: true, subsidy: null });
    expect(noBudget.json).toMatchObject({ reason: { code: 'total.capped', params: { sum: 106.5, cap: 100 } }, subsidyReason: { code: 'subsidy.noBudget', params: {} } });
    expect(noBudget.json.items.map((i: { reason: { code: string } }) => i.reason.code)).toEqual(['volume.above', ...Array<string>(5).fill('item.entered')]);
    expect((await kit.api(office, 'PUT', '/api/assessment/2022/budget', { operatingSubsidyCny: 20_000_000, preProgrammeSubsidyCny: 8_000_000 })).status).toBe(200);
    const s = await kit.api(assessor, 'GET', '/api/assessment/2022/score');
    // 100 is 10 whole points above 90 → +¥5,000,000; district = 8,000,000 / 2; city = the rest
    expect(s.json.subsidy).toMatchObject({ band: 'bonus', wholePoints: 10, adjustmentCny: 5_000_000, settledCny: 25_000_000, districtCny: 4_000_000, cityCny: 21_000_000, linkedBaseCny: 6_000_000 });
    expect(s.json.items.map((i: { item: string }) => i.item)).toEqual(['volume', 'safety', 'service', 'operations', 'public_response', 'social_responsibility']);
    expect(s.json.subsidy.reasons.map((r: { code: string }) => r.code)).toEqual(['subsidy.linkedBase', 'subsidy.bonus', 'subsidy.split']);
    expect(s.json.subsidy.reasons[1].params).toEqual({ score: 100, bonusFrom: 90, points: 10, cnyPerPoint: 500_000, adjustmentCny: 5_000_000 });
  });

  it('uses the target the office sets for a later year', async () => {
    const early = await kit.api(office, 'GET', '/api/assessment/2023/score');
    expect(early.status).toBe(409);
    expect(early.json.error.details).toEqual({ reason: { code: 'volume.noTarget', params: {} } });
    expect((await kit.api(office, 'PUT', '/api/assessment/2023/target', { target: 10_000, reason: 'test year' })).status).toBe(200);
    const v = await kit.api(office, 'GET', '/api/assessment/2023/volume');
    // 9,999 / 10,000 = 99.99 % → 0 whole points below → 50
    expect(v.json).toMatchObject({ target: 10_000, boardings: 9_999, volumeScore: 50 });
  });
});
