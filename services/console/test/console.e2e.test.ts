/**
 * The staff console in a real browser (Debian's chromium, headless) against the real staff API on a
 * test database: sign-in per role, the quarterly review workflow pressed through the UI by the
 * roles that own each step, a payment on an annual list, and role checks both in the UI (no
 * button) and in the API (403). Screenshots of the main pages go to test-results/screenshots/.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCounts, startConsoleHarness, type ConsoleHarness, type Staff } from './console-harness';

let h: ConsoleHarness;
let quarterId = '';
let annualId = '';
let annualPeople: string[] = [];
let anomalyPeople = { heavy: '', twoBus: '' };

// The annual 2022 list closes on 2023-01-11 (year end + 10 days grace, R12); its notice runs
// 2023-01-11..17 and it can be finalised on the 18th, where the clock then stays for the browser.
const ANNUAL_OPEN = '2023-01-11T09:00:00+08:00';
const BROWSER_DAY = '2023-01-18T09:00:00+08:00';

beforeAll(async () => {
  h = await startConsoleHarness(ANNUAL_OPEN);
  await seedCounts(h, '2022-Q3', [
    { name: '张三丰', rides: 96 },
    { name: '李四', rides: 80 },
    { name: '王小五', rides: 80 },
    { name: '欧阳娜娜', rides: 41 },
    { name: '赵六', rides: 7 },
  ]);
  annualPeople = await seedCounts(h, '2022', [
    { name: '孙悟空', rides: 412 },
    { name: '猪八戒', rides: 350 },
    { name: '沙和尚', rides: 301 },
    { name: '白龙马', rides: 299 },
  ]);
  // A year of city-area volume (R14) for the dashboard chart: April to December 2022
  await h.db.db.insertInto('routes').values([{ route_id: 'R1', short_name: '1路', long_name: '火车站—吕梁学院', is_city: true }, { route_id: 'R101', short_name: '101路', long_name: '离石—柳林', is_city: false }]).execute();
  await h.db.db
    .insertInto('volume_daily')
    .values(Array.from({ length: 9 }, (_, i) => ({ service_date: `2022-${String(i + 4).padStart(2, '0')}-15`, route_id: 'R1', boardings: 2_700_000 + i * 120_000, taps: 2_800_000 + i * 120_000 })))
    .execute();
  // Two R13 anomalies in a quarter without a list yet, and validators for the registry view
  const [heavy, twoBus] = await seedCounts(h, '2022-Q4', [{ name: '欧阳娜娜', rides: 60 }, { name: '司马光', rides: 33 }], { code: 'E002', name: '吕梁市人民医院' });
  await h.db.db.insertInto('anomalies').values([
    { kind: 'rides_per_day', person_id: heavy!, period: '2022-Q4', key: 'e2e-1', details: JSON.stringify({ date: '2022-11-02', rides: 14 }) },
    { kind: 'two_vehicles', person_id: twoBus!, period: '2022-Q4', key: 'e2e-2', details: JSON.stringify({ firstTapIds: [101, 102], vehicleIds: ['V0123', 'V0456'], seconds: 31 }) },
  ]).execute();
  anomalyPeople = { heavy: heavy!, twoBus: twoBus! };
  const secret = Buffer.from('placeholder');
  await h.db.db.insertInto('devices').values([
    { device_id: 'V0123-A', vehicle_id: null, secret_ciphertext: secret, last_seen_at: '2023-01-18T08:55:00+08:00' },
    { device_id: 'V0456-A', vehicle_id: null, secret_ciphertext: secret, last_seen_at: '2023-01-15T18:00:00+08:00' },
  ]).execute();
  // The annual list is taken to "final" through the API; the browser part records its payment.
  const { operator, office } = h.staff;
  const created = await h.api(operator, 'POST', '/api/snapshots', { period: '2022', tiePolicy: 'shared' });
  expect(created.status).toBe(201);
  annualId = created.json.snapshotId ?? '';
  for (const [who, action] of [[operator, 'submit'], [office, 'approve'], [office, 'publish']] as const) {
    const r = await h.api(who, 'POST', `/api/snapshots/${annualId}/${action}`, {});
    expect([action, r.status]).toEqual([action, 200]);
  }
  h.clock.set(BROWSER_DAY);
  const fin = await h.api(office, 'POST', `/api/snapshots/${annualId}/finalize`, {});
  expect(fin.json.status).toBe('final');
}, 120_000);

afterAll(async () => {
  await h?.close();
});

/** Fills the open dialog's fields by name and presses its confirm button. */
async function confirmDialog(page: Page, values: Record<string, string> = {}): Promise<void> {
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  for (const [name, value] of Object.entries(values)) await dialog.locator(`[name="${name}"]`).fill(value);
  await dialog.locator('button[type=submit]').click();
  await dialog.waitFor({ state: 'detached' });
}

async function openSnapshot(page: Page, id: string): Promise<void> {
  await page.goto(`${h.url}/console/#/snapshots/${id}`);
  await page.waitForSelector('[data-testid=snapshot-status]');
}

async function waitForStatus(page: Page, status: string): Promise<void> {
  await page.waitForSelector(`[data-testid=snapshot-status] [data-status="${status}"]`);
}

async function workflowButtons(page: Page): Promise<string[]> {
  const ids = await Promise.all((await page.locator('[data-testid^="action-"]').all()).map((b) => b.getAttribute('data-testid')));
  return ids.map((x) => (x ?? '').replace('action-', '')).sort();
}

function problems(page: Page): string[] {
  return (page as Page & { problems?: string[] }).problems ?? [];
}

describe('signing in', () => {
  it('refuses a wrong password with a message and keeps the sign-in form', async () => {
    const context = await h.browser!.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
    const page = await context.newPage();
    await page.goto(`${h.url}/`);
    await page.waitForSelector('[data-testid=username]');
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
    expect(await page.locator('h1').textContent()).toBe('工作人员登录');
    await h.screenshot(page, '01-sign-in');
    await page.fill('[data-testid=username]', h.staff.office.username);
    await page.fill('[data-testid=password]', 'wrong-password');
    await page.click('[data-testid=signin-submit]');
    await page.waitForSelector('[data-testid=signin-error]:not(:empty)');
    expect(await page.locator('[data-testid=signin-error]').textContent()).toBe('用户名或密码错误。');
    expect(await page.locator('[data-testid=current-user]').count()).toBe(0);
    await context.close();
  });

  it('signs in every role and shows each only the pages its role may use', async () => {
    const expected: Record<keyof ConsoleHarness['staff'], { role: string; has: string[]; lacks: string[] }> = {
      operator: { role: '公交公司', has: ['snapshots', 'rankings', 'exports'], lacks: ['audit'] },
      office: { role: '领导小组办公室', has: ['snapshots', 'anomalies', 'assessment'], lacks: ['audit'] },
      eco: { role: '生态环境局', has: ['snapshots', 'assessment'], lacks: ['audit', 'anomalies'] },
      assessor: { role: '考核组', has: ['assessment'], lacks: ['snapshots', 'rankings', 'audit'] },
      auditor: { role: '审计', has: ['snapshots', 'audit', 'rankings'], lacks: [] },
      admin: { role: '系统管理员', has: ['audit', 'registry'], lacks: ['snapshots', 'assessment'] },
    };
    for (const [key, want] of Object.entries(expected) as [keyof ConsoleHarness['staff'], (typeof expected)['operator']][]) {
      const page = await h.signedIn(h.staff[key]);
      expect(await page.locator('[data-testid=current-user]').textContent()).toContain(want.role);
      for (const nav of want.has) expect([key, nav, await page.locator(`[data-testid="nav-${nav}"]`).count()]).toEqual([key, nav, 1]);
      for (const nav of want.lacks) expect([key, nav, await page.locator(`[data-testid="nav-${nav}"]`).count()]).toEqual([key, nav, 0]);
      expect(problems(page)).toEqual([]);
      await page.context().close();
    }
  }, 60_000);
});

describe('the quarterly review workflow, pressed by the roles that own each step', () => {
  it('an operator generates the 2022-Q3 list and submits it', async () => {
    const page = await h.signedIn(h.staff.operator);
    await page.click('[data-testid="nav-snapshots"]');
    await page.waitForSelector('[data-testid=generate-submit]');
    await page.selectOption('[data-testid=generate-kind]', 'quarterly');
    await page.selectOption('[data-testid=generate-period]', '2022-Q3');
    await page.click('[data-testid=generate-submit]');
    await waitForStatus(page, 'draft');
    quarterId = page.url().split('#/snapshots/')[1] ?? '';
    expect(quarterId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await page.locator('[data-testid=snapshot-rows] tbody tr').count()).toBe(5);
    // names are masked on the list
    expect(await page.locator('[data-testid=snapshot-rows] tbody').textContent()).toContain('张*丰');
    expect(await page.locator('[data-testid=snapshot-rows] tbody').textContent()).not.toContain('张三丰');
    expect(await workflowButtons(page)).toEqual(['submit']);
    await page.click('[data-testid=action-submit]');
    await confirmDialog(page);
    await waitForStatus(page, 'submitted');
    // the operator has nothing more to press on a submitted list
    expect(await workflowButtons(page)).toEqual([]);
    expect(problems(page)).toEqual([]);
    await page.context().close();
  }, 30_000);

  it('the office returns it with a reason; the operator submits it again', async () => {
    const office = await h.signedIn(h.staff.office);
    await openSnapshot(office, quarterId);
    expect(await workflowButtons(office)).toEqual(['approve', 'return']);
    await office.click('[data-testid=action-return]');
    await confirmDialog(office, { reason: '赵六的迟到数据尚未计入，请核对后重新提交' });
    await waitForStatus(office, 'returned');
    expect(await office.locator('[data-testid=history]').textContent()).toContain('赵六的迟到数据尚未计入');
    expect(await workflowButtons(office)).toEqual(['correct']);
    await office.context().close();

    const operator = await h.signedIn(h.staff.operator);
    await openSnapshot(operator, quarterId);
    expect(await workflowButtons(operator)).toEqual(['correct', 'submit']);
    await operator.click('[data-testid=action-submit]');
    await confirmDialog(operator);
    await waitForStatus(operator, 'submitted');
    await operator.context().close();
  }, 30_000);

  it('the office approves and publishes it; the notice dates are shown in Shanghai time', async () => {
    const page = await h.signedIn(h.staff.office);
    await openSnapshot(page, quarterId);
    await page.click('[data-testid=action-approve]');
    await confirmDialog(page);
    await waitForStatus(page, 'approved');
    expect(await workflowButtons(page)).toEqual(['publish']);
    await page.click('[data-testid=action-publish]');
    await confirmDialog(page);
    await waitForStatus(page, 'in_notice');
    // published on 2023-01-18 (Shanghai): 7 calendar days inclusive
    expect(await page.locator('[data-testid=notice-dates]').textContent()).toBe('2023-01-18 – 2023-01-24');
    expect(await workflowButtons(page)).toEqual(['finalise', 'objection']);
    // finalising waits for the day after the notice ends (R11): the button says so instead of failing
    expect(await page.locator('[data-testid=action-finalise]').getAttribute('aria-disabled')).toBe('true');
    expect(await page.locator('#finalise-wait').textContent()).toContain('2023-01-24');
    await h.screenshot(page, '05-snapshot-detail-in-notice');
    const history = await page.locator('[data-testid=history] tbody tr').count();
    expect(history).toBeGreaterThanOrEqual(6); // draft, submitted, returned, submitted, approved, in notice
    expect(problems(page)).toEqual([]);
    await page.context().close();
  }, 30_000);

  it('roles that may not act see no buttons, and the API refuses them anyway', async () => {
    for (const who of [h.staff.operator, h.staff.eco, h.staff.auditor] as Staff[]) {
      const page = await h.signedIn(who);
      await openSnapshot(page, quarterId);
      expect([who.username, await workflowButtons(page)]).toEqual([who.username, []]);
      expect(await page.locator('[data-testid=no-actions]').count()).toBe(1);
      await page.context().close();
    }
    // the same buttons, pressed through the API without the role
    expect((await h.api(h.staff.operator, 'POST', `/api/snapshots/${quarterId}/objections`, { text: 'x' })).status).toBe(403);
    expect((await h.api(h.staff.auditor, 'POST', `/api/snapshots/${quarterId}/finalize`, {})).status).toBe(403);
    expect((await h.api(h.staff.eco, 'POST', `/api/snapshots/${quarterId}/approve`, {})).status).toBe(403);
    expect((await h.api(h.staff.office, 'POST', `/api/snapshots/${annualId}/payments`, { personId: annualPeople[0] })).status).toBe(403);
    // and the list did not move
    expect((await h.api(h.staff.auditor, 'GET', `/api/snapshots/${quarterId}`)).json.status).toBe('in_notice');
  }, 60_000);

  it('the office records an objection during the notice and resolves it', async () => {
    const page = await h.signedIn(h.staff.office);
    await openSnapshot(page, quarterId);
    await page.click('[data-testid=action-objection]');
    await confirmDialog(page, { text: '群众反映第 2 名乘车次数偏高，请核实' });
    await page.waitForSelector('[data-testid=objections] tbody tr');
    expect(await page.locator('[data-testid=objections]').textContent()).toContain('第 2 名乘车次数偏高');
    await page.locator('[data-testid^="resolve-"]').click();
    await confirmDialog(page, { resolution: '经核实刷卡记录无误，维持原名单' });
    await page.waitForSelector('[data-testid^="resolve-"]', { state: 'detached' });
    expect(await page.locator('[data-testid=objections]').textContent()).toContain('维持原名单');
    const objections = await h.api<{ resolution: string | null }[]>(h.staff.auditor, 'GET', `/api/snapshots/${quarterId}/objections`);
    expect(objections.json.map((o) => o.resolution)).toEqual(['经核实刷卡记录无误，维持原名单']);
    expect(problems(page)).toEqual([]);
    await page.context().close();
  }, 30_000);
});

describe('the annual award list', () => {
  it('the ecology bureau records a payment; the office sees no payment button', async () => {
    const office = await h.signedIn(h.staff.office);
    await openSnapshot(office, annualId);
    await waitForStatus(office, 'final');
    expect(await office.locator('[data-testid^="pay-"]').count()).toBe(0);
    await office.context().close();

    const page = await h.signedIn(h.staff.eco);
    await openSnapshot(page, annualId);
    await waitForStatus(page, 'final');
    // 299 rides is below the annual minimum of 300 (R9): three persons, tiers shown
    expect(await page.locator('[data-testid=snapshot-rows] tbody tr').count()).toBe(3);
    expect(await page.locator('[data-testid=award-total]').textContent()).toBe('¥6,000');
    expect(await page.locator('[data-testid^="pay-"]').count()).toBe(3);
    await page.click('[data-testid=pay-1]');
    expect(await page.locator('[data-testid=dialog-intro]').textContent()).toContain('¥2,000');
    await confirmDialog(page, { reference: 'EB-2023-0001' });
    await page.waitForSelector('[data-testid=paid-1]');
    expect(await page.locator('[data-testid=paid-1]').textContent()).toContain('2023-01-18');
    expect(await page.locator('[data-testid^="pay-"]').count()).toBe(2);
    await h.screenshot(page, '06-annual-list-payment');
    expect(problems(page)).toEqual([]);
    await page.context().close();

    const payments = await h.api(h.staff.auditor, 'GET', `/api/snapshots/${annualId}/payments`);
    expect(payments.json).toEqual([expect.objectContaining({ personId: annualPeople[0], amountCny: 2000, reference: 'EB-2023-0001', recordedBy: h.staff.eco.username })]);
  }, 30_000);
});

describe('anomalies (R13)', () => {
  it('the office dismisses one and excludes another; the excluded person leaves the live ranking', async () => {
    const page = await h.signedIn(h.staff.office);
    await page.click('[data-testid="nav-anomalies"]');
    await page.waitForSelector('[data-testid=anomalies-table]');
    const rows = page.locator('[data-testid=anomalies-table] tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await page.locator('[data-testid=anomalies-table]').textContent()).toContain('欧**娜');
    expect(await page.locator('[data-testid=anomalies-table]').textContent()).not.toContain('欧阳娜娜');
    // the records' detail fields, labelled in Chinese rather than as the server's field names
    const details = await page.locator('[data-testid=anomalies-table]').textContent();
    expect(details).toContain('有效乘车次数：14');
    expect(details).toContain('车辆：V0123 / V0456');
    expect(details).toContain('间隔秒数：31');
    expect(details).not.toMatch(/rides|seconds|vehicleIds/);
    await h.screenshot(page, '07-anomalies');
    await rows.filter({ hasText: '司*光' }).locator('button', { hasText: '无需处理' }).click();
    await confirmDialog(page, { reason: '两台车的刷卡机时钟相差 40 秒，非代刷' });
    await expect.poll(() => rows.count()).toBe(1);
    await rows.filter({ hasText: '欧**娜' }).locator('[data-testid^="exclude-"]').click();
    expect(await page.locator('[data-testid=dialog-intro]').textContent()).toContain('2022-Q4');
    await confirmDialog(page, { reason: '单日 14 次，经核实为借卡他人使用' });
    await page.waitForSelector('[data-testid=anomalies-table] tbody tr', { state: 'detached' });
    expect(problems(page)).toEqual([]);
    await page.context().close();

    const live = await h.api<{ rows: { personId: string }[] }>(h.staff.office, 'GET', '/api/rankings?period=2022-Q4');
    expect(live.json.rows.map((r) => r.personId)).toEqual([anomalyPeople.twoBus]);
    const all = await h.api<{ personId: string; status: string }[]>(h.staff.auditor, 'GET', '/api/anomalies');
    expect(all.json.map((a) => [a.personId, a.status]).sort()).toEqual([[anomalyPeople.heavy, 'excluded'], [anomalyPeople.twoBus, 'dismissed']].sort());
    // the eco bureau has no anomaly page, and the API agrees
    expect((await h.api(h.staff.eco, 'GET', '/api/anomalies')).status).toBe(403);
  }, 30_000);
});

describe('the other pages', () => {
  it('renders each main page without errors, in Chinese and in English', async () => {
    const page = await h.signedIn(h.staff.office);
    const pages: [string, string, string][] = [
      ['dashboard?year=2022', '02-dashboard', '[data-testid=stat-silent]'],
      ['rankings?period=2022-Q3', '03-rankings', '[data-testid=rankings-table]'],
      ['snapshots', '04-snapshots', '[data-testid=snapshots-table]'],
      ['assessment?year=2022', '08-assessment', '[data-testid=volume-score]'],
      ['registry/devices', '09-registry-devices', '[data-testid=devices-table]'],
      ['exports', '11-exports', '[data-testid=export-snapshot-csv]'],
    ];
    for (const [hash, name, ready] of pages) {
      await page.goto(`${h.url}/console/#/${hash}`);
      await page.waitForSelector(ready);
      await page.waitForSelector('main .loading', { state: 'detached' });
      await h.screenshot(page, name);
    }
    // the rule explanations the server sends (R15-R16) are said in Chinese, not in its English
    await page.goto(`${h.url}/console/#/assessment?year=2022`);
    await page.waitForSelector('[data-testid=volume-explanation]');
    expect(await page.locator('[data-testid=volume-explanation]').textContent()).toMatch(/^R16：完成率 [\d.]+%，下降 \d+ 个整百分点/);
    expect(await page.locator('main').textContent()).not.toMatch(/completion|not entered|whole point|office|rules 20/);
    // dashboard and registry: the validator silent since the 15th is counted and flagged
    await page.goto(`${h.url}/console/#/dashboard`);
    await page.waitForSelector('[data-testid=stat-silent]');
    // (this year, 2023, has no target yet)
    expect(await page.locator('[data-testid=volume-explanation]').textContent()).toBe('R15：本年度尚未设定客运量目标，由办公室设定');
    expect(await page.locator('[data-testid=stat-silent] .stat-value').textContent()).toBe('1');
    await page.goto(`${h.url}/console/#/registry/devices`);
    await page.waitForSelector('[data-testid=devices-table]');
    expect(await page.locator('[data-testid=devices-table] tr.row-warn').textContent()).toContain('V0456-A');
    // rankings: the live ranking with shared ranks (R7)
    await page.goto(`${h.url}/console/#/rankings?period=2022-Q3`);
    await page.waitForSelector('[data-testid=rankings-table]');
    const ranks = await page.locator('[data-testid=rankings-table] tbody tr td:first-child').allTextContents();
    expect(ranks).toEqual(['1', '2', '2', '4', '5']);
    await page.fill('[data-testid=ranking-employer]', '交通运输局');
    expect(await page.locator('[data-testid=rankings-table] tbody tr').count()).toBe(5);
    await page.fill('[data-testid=ranking-employer]', '没有这个单位');
    await page.waitForSelector('.empty');

    // switch to English and back: every visible string goes through the dictionary
    await page.click('[data-testid=lang-switch]');
    await page.waitForSelector('html[lang="en"]', { state: 'attached' });
    expect(await page.locator('main h1').textContent()).toBe('Live rankings');
    expect(await page.locator('[data-testid="nav-snapshots"]').textContent()).toBe('Lists and review');
    await page.goto(`${h.url}/console/#/snapshots/${quarterId}`);
    await page.waitForSelector('[data-testid=snapshot-status]');
    expect(await page.locator('[data-testid=snapshot-status]').textContent()).toBe('In public notice');
    await h.screenshot(page, '12-snapshot-detail-english');
    await page.goto(`${h.url}/console/#/assessment?year=2022`);
    await page.waitForSelector('[data-testid=volume-explanation]');
    expect(await page.locator('[data-testid=volume-explanation]').textContent()).toMatch(/^R16: completion [\d.]+ % falls short by \d+ whole points/);
    await page.click('[data-testid=lang-switch]');
    await page.waitForSelector('html[lang="zh-CN"]', { state: 'attached' });
    expect(problems(page)).toEqual([]);
    await page.context().close();

    const auditor = await h.signedIn(h.staff.auditor);
    await auditor.goto(`${h.url}/console/#/audit?action=snapshot`);
    await auditor.waitForSelector('[data-testid=audit-table]');
    const actions = await auditor.locator('[data-testid=audit-table] tbody tr td:nth-child(4)').allTextContents();
    expect(actions).toEqual(expect.arrayContaining(['snapshot.create', 'snapshot.submit', 'snapshot.return', 'snapshot.approve', 'snapshot.publish']));
    expect(actions.every((a) => a.includes('snapshot'))).toBe(true);
    await h.screenshot(auditor, '10-audit');
    await auditor.context().close();
  }, 90_000);

  it('downloads an export with the session, and lays out at tablet width', async () => {
    const page = await h.signedIn(h.staff.operator, { width: 820, height: 1180 });
    await page.goto(`${h.url}/console/#/exports`);
    await page.waitForSelector('[data-testid=export-snapshot-csv]');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-snapshot-csv]')]);
    expect(download.suggestedFilename()).toMatch(/\.csv$/);
    const path = await download.path();
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(path);
    expect(bytes.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf])); // UTF-8 BOM for Excel
    // at tablet width the navigation is a bar above the page, not a column beside it
    const nav = await page.locator('nav.sidenav').boundingBox();
    const main = await page.locator('main').boundingBox();
    expect(nav && main && main.y >= nav.y + nav.height - 1).toBe(true);
    await h.screenshot(page, '13-exports-tablet');
    await page.goto(`${h.url}/console/#/snapshots/${quarterId}`);
    await page.waitForSelector('[data-testid=snapshot-status]');
    await h.screenshot(page, '14-snapshot-detail-tablet');
    expect(problems(page)).toEqual([]);
    await page.context().close();
  }, 30_000);

  it('works from the keyboard: skip link, tab to a workflow button, dialog closes on Escape', async () => {
    const page = await h.signedIn(h.staff.office);
    await openSnapshot(page, quarterId);
    await page.reload();
    await page.waitForSelector('[data-testid=snapshot-status]');
    const focused = () => page.locator(':focus').getAttribute('data-testid');
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').getAttribute('class')).toBe('skip');
    // tab until the objection button has focus, then open its dialog with Enter
    for (let i = 0; i < 40; i++) {
      if ((await focused()) === 'action-objection') break;
      await page.keyboard.press('Tab');
    }
    expect(await focused()).toBe('action-objection');
    await page.keyboard.press('Enter');
    await page.waitForSelector('dialog[open]');
    expect(await page.locator('dialog textarea:focus').count()).toBe(1);
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog', { state: 'detached' });
    // Escape cancelled: nothing beyond the objection recorded earlier
    expect((await h.api<unknown[]>(h.staff.office, 'GET', `/api/snapshots/${quarterId}/objections`)).json).toHaveLength(1);
    await page.context().close();
  }, 30_000);

  it('sends a user whose session ended to sign in, then back to the page they were on', async () => {
    const page = await h.signedIn(h.staff.auditor);
    await openSnapshot(page, quarterId);
    h.clock.set('2023-01-18T21:30:00+08:00'); // sessions last 12 hours
    await page.click('[data-testid="nav-audit"]');
    await page.waitForSelector('[data-testid=username]');
    expect(page.url()).toContain('#/sign-in?next=');
    expect(await page.locator('[data-testid=current-user]').count()).toBe(0);
    await page.fill('[data-testid=username]', h.staff.auditor.username);
    await page.fill('[data-testid=password]', h.staff.auditor.password);
    await page.click('[data-testid=signin-submit]');
    await page.waitForSelector('[data-testid=audit-table]');
    expect(page.url()).toContain('#/audit');
    await page.context().close();
    h.clock.set(BROWSER_DAY);
  }, 30_000);
});
