/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call -- HTTP bodies are asserted by value */
/** Live rankings: employer at the period's end, tie policies, limit, exclusions, validation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedPersons, setCounts, startRewardTestKit, type FixturePerson, type RewardTestKit } from './testing/reward-test-kit';

let kit: RewardTestKit;
let people: FixturePerson[];
let op: string;

beforeAll(async () => {
  kit = await startRewardTestKit('2022-08-15T09:00:00+08:00');
  op = (await kit.userWithRoles(['operator'])).token;
  people = await seedPersons(kit, ['甲一', '乙二', '丙三'], { code: 'OLD', name: '旧单位' });
  await kit.db.db.insertInto('employers').values({ code: 'NEW', name: '新单位', type: 'soe', city_area: true }).execute();
  // 甲一 moves from OLD to NEW on 2022-08-01; 乙二 leaves OLD on 2022-08-10 (in service to 08-09).
  await kit.db.db.deleteFrom('employments').where('person_id', 'in', [people[0]!.personId, people[1]!.personId]).execute();
  await kit.db.db
    .insertInto('employments')
    .values([
      { person_id: people[0]!.personId, employer_code: 'OLD', in_service: '[2022-01-01,2022-08-01)' },
      { person_id: people[0]!.personId, employer_code: 'NEW', in_service: '[2022-08-01,)' },
      { person_id: people[1]!.personId, employer_code: 'OLD', in_service: '[2022-01-01,2022-08-10)' },
    ])
    .execute();
  await setCounts(kit, '2022-Q3', [
    { personId: people[0]!.personId, rides: 5, lastCountedAt: '2022-08-02T08:00:00+08:00' },
    { personId: people[1]!.personId, rides: 5, lastCountedAt: '2022-08-01T08:00:00+08:00' },
    { personId: people[2]!.personId, rides: 2, lastCountedAt: '2022-07-01T08:00:00+08:00' },
  ]);
});
afterAll(async () => {
  await kit?.close();
});

describe('live rankings', () => {
  it('shows the employer at the period end, or the last one served in the period', async () => {
    const r = await kit.api(op, 'GET', '/api/rankings?period=2022-Q3');
    expect(r.status).toBe(200);
    expect(r.json.rows.map((x: { nameMasked: string; employerCode: string; rank: number }) => [x.nameMasked, x.employerCode, x.rank])).toEqual([
      ['乙*', 'OLD', 1],
      ['甲*', 'NEW', 1],
      ['丙*', 'OLD', 3],
    ]);
  });

  it('applies first-reached and limit', async () => {
    const r = await kit.api(op, 'GET', '/api/rankings?period=2022-Q3&tiePolicy=first-reached&limit=2');
    expect(r.json.rows.map((x: { rank: number; personId: string }) => [x.rank, x.personId])).toEqual([
      [1, people[1]!.personId],
      [2, people[0]!.personId],
    ]);
  });

  it('gives a tie note crossing the list line in figures too, for clients in other languages', async () => {
    // 2023 with a list of one: two persons tie for it (R7), both listed at shared rank 1
    await kit.db.db.insertInto('rules_versions').values({ version: '2023.list-of-one', year: 2023, rules: JSON.stringify({ listSize: 1 }) }).execute();
    await kit.db.db.insertInto('programme_years').values({ year: 2023, rules_version: '2023.list-of-one' }).execute();
    await setCounts(kit, '2023-Q1', [
      { personId: people[0]!.personId, rides: 7, lastCountedAt: '2023-02-02T08:00:00+08:00' },
      { personId: people[2]!.personId, rides: 7, lastCountedAt: '2023-02-01T08:00:00+08:00' },
    ]);
    const r = await kit.api(op, 'GET', '/api/rankings?period=2023-Q1');
    expect(r.status).toBe(200);
    expect(r.json.rows).toHaveLength(2);
    for (const row of r.json.rows) {
      expect(row.tieNote).toMatch(/^R7\/R9: 2 persons tie on 7 rides at shared rank 1/);
      expect(row.tie).toEqual({ policy: 'shared', size: 2, rides: 7, rank: 1, fromPosition: 1, toPosition: 2, listLine: 1, tierBoundariesAfter: [] });
    }
    const alone = await kit.api(op, 'GET', '/api/rankings?period=2022-Q3');
    expect(alone.json.rows.map((x: { tie: unknown }) => x.tie)).toEqual([null, null, null]);
  });

  it('answers bad input with 400, never 500', async () => {
    for (const q of ['period=2022-Q5', 'period=x', 'period=2022&tiePolicy=random', 'period=2022&limit=0', '']) {
      const r = await kit.api(op, 'GET', `/api/rankings?${q}`);
      expect(r.status).toBe(400);
      expect(r.json.error.code).toBe('validation_failed');
    }
    expect((await kit.api(op, 'POST', '/api/snapshots', '{"period":')).status).toBe(400);
  });
});
