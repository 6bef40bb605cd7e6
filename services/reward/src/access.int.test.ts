/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument -- HTTP bodies are asserted by value */
/**
 * The whole endpoint × role matrix, generated from the same ENDPOINTS table the router uses; login
 * lock-out; the audit chain detecting an edited and a deleted row; the OpenAPI document.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, verifyAuditChain } from '@ridetally/db';
import { isAllowed, STAFF_ROLES, type Role } from './roles';
import { ENDPOINTS } from './routes/endpoints';
import { startRewardTestKit, type RewardTestKit } from './testing/reward-test-kit';

let kit: RewardTestKit;
const tokens = new Map<Role, string>();

beforeAll(async () => {
  kit = await startRewardTestKit();
  for (const role of STAFF_ROLES) tokens.set(role, (await kit.userWithRoles([role])).token);
});
afterAll(async () => {
  await kit?.close();
});

function concretePath(path: string): string {
  return path.replace(':id', path.startsWith('/api/objections') ? '999999' : randomUUID()).replace(':year', '2022').replace(':item', 'safety');
}

describe('endpoint × role matrix', () => {
  // logout last: it ends the session it is called with
  const ordered = [...ENDPOINTS].sort((a, b) => Number(a.operationId === 'logout') - Number(b.operationId === 'logout'));
  for (const e of ordered) {
    it(`${e.method.toUpperCase()} ${e.path}`, async () => {
      const path = concretePath(e.path);
      const body = e.method === 'get' ? undefined : {};
      const anon = await kit.api(undefined, e.method.toUpperCase(), path, body);
      if (e.access === 'public') expect(anon.status).not.toBe(401);
      else expect(anon.status).toBe(401);
      for (const role of STAFF_ROLES) {
        const r = await kit.api(tokens.get(role), e.method.toUpperCase(), path, body);
        const allowed = isAllowed(e.access, [role]);
        expect({ role, status: allowed ? (r.status === 403 || r.status === 401 ? r.status : 'ok') : r.status }).toEqual({ role, status: allowed ? 'ok' : 403 });
        expect(r.status).toBeLessThan(500);
      }
    });
  }

  it('covers every endpoint with an explicit role list or public/any', () => {
    for (const e of ENDPOINTS) expect(e.access === 'public' || e.access === 'any' || e.access.length > 0).toBe(true);
    // the payment list with full names is for the ecology bureau alone
    expect(ENDPOINTS.find((e) => e.operationId === 'exportPaymentList')?.access).toEqual(['eco_bureau']);
  });
});

describe('login', () => {
  it('locks an account after 5 failures for 15 minutes, and audits without the password', async () => {
    const { username, password } = await kit.userWithRoles(['office'], 'lock-me');
    for (let i = 0; i < 5; i++) {
      const r = await kit.api(undefined, 'POST', '/api/auth/login', { username, password: 'wrong-password' });
      expect(r.status).toBe(401);
    }
    const locked = await kit.api(undefined, 'POST', '/api/auth/login', { username, password });
    expect(locked.status).toBe(401);
    expect(locked.json.error.message).toMatch(/locked/);
    kit.clock.set(new Date(kit.clock.now.getTime() + 16 * 60_000).toISOString());
    const ok = await kit.api(undefined, 'POST', '/api/auth/login', { username, password });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('set-cookie')).toMatch(/rt_staff=.*HttpOnly/i);
    const me = await kit.api(ok.json.token, 'GET', '/api/auth/me');
    expect(me.json).toMatchObject({ username, roles: ['office'] });
    const log = await kit.db.db.selectFrom('audit_log').select(['action', 'details']).execute();
    expect(log.map((l) => l.action)).toContain('auth.locked');
    expect(JSON.stringify(log)).not.toContain(password);
    expect(JSON.stringify(log)).not.toContain('wrong-password');
    // a session token is not stored in clear
    const stored = await kit.db.db.selectFrom('staff_sessions').select('token_hash').execute();
    expect(stored.map((s) => s.token_hash)).not.toContain(ok.json.token);
    // logout ends the session
    await kit.api(ok.json.token, 'POST', '/api/auth/logout', {});
    expect((await kit.api(ok.json.token, 'GET', '/api/auth/me')).status).toBe(401);
  });

  it('expires sessions after 12 hours', async () => {
    const { token } = await kit.userWithRoles(['auditor']);
    expect((await kit.api(token, 'GET', '/api/auth/me')).status).toBe(200);
    kit.clock.set(new Date(kit.clock.now.getTime() + 12 * 3600_000 + 1000).toISOString());
    expect((await kit.api(token, 'GET', '/api/auth/me')).status).toBe(401);
  });
});

describe('audit chain', () => {
  it('refuses UPDATE and DELETE while the trigger is on', async () => {
    await expect(sql`UPDATE audit_log SET reason = 'x'`.execute(kit.db.db)).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM audit_log`.execute(kit.db.db)).rejects.toThrow(/append-only/);
  });

  it('detects a row edited or deleted by a superuser who disabled the trigger', async () => {
    const auditor = (await kit.userWithRoles(['auditor'])).token;
    const good = await kit.api(auditor, 'GET', '/api/audit/verify');
    expect(good.json.ok).toBe(true);
    const rows = await kit.db.db.selectFrom('audit_log').select(['id', 'actor']).orderBy('id').execute();
    expect(rows.length).toBeGreaterThan(5);
    const victim = Number(rows[3]!.id);
    await sql`ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change`.execute(kit.db.db);
    try {
      await sql`UPDATE audit_log SET actor = 'someone else' WHERE id = ${victim}`.execute(kit.db.db);
      const edited = await verifyAuditChain(kit.db.db);
      expect(edited).toMatchObject({ ok: false, brokenAtId: victim });
      expect(edited.problem).toMatch(/edited/);
      const viaApi = await kit.api(auditor, 'GET', '/api/audit/verify');
      expect(viaApi.json).toMatchObject({ ok: false, brokenAtId: victim });

      await sql`UPDATE audit_log SET actor = ${rows[3]!.actor} WHERE id = ${victim}`.execute(kit.db.db);
      expect((await verifyAuditChain(kit.db.db)).ok).toBe(true);

      await sql`DELETE FROM audit_log WHERE id = ${victim}`.execute(kit.db.db);
      const deleted = await verifyAuditChain(kit.db.db);
      expect(deleted.ok).toBe(false);
      expect(deleted.brokenAtId).toBe(Number(rows[4]!.id));
      expect(deleted.problem).toMatch(/deleted/);
    } finally {
      await sql`ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change`.execute(kit.db.db);
    }
  });
});

describe('OpenAPI', () => {
  it('documents every endpoint of the table as OpenAPI 3.1', async () => {
    const r = await kit.api(undefined, 'GET', '/api/openapi.json');
    expect(r.status).toBe(200);
    expect(r.json.openapi).toBe('3.1.0');
    for (const e of ENDPOINTS) {
      const p = e.path.replace(/:([A-Za-z_]+)/g, '{$1}');
      expect(r.json.paths[p]?.[e.method]?.operationId).toBe(e.operationId);
    }
    expect(r.json.paths['/api/snapshots'].post.requestBody.content['application/json'].schema).toBeTruthy();
  });
});
