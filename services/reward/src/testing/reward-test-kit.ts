/**
 * Integration-test kit: a fresh migrated PostgreSQL database, the reward app on a random port, an
 * injected clock, staff users per role, and fixtures written straight into the tables the other
 * services own (persons, employers, employments, person_period_counts, volume_daily).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { createKeyring, type Keyring } from '@ridetally/keyring';
import { maskName } from '@ridetally/domain';
import { createLogger } from '@ridetally/telemetry';
import { createRewardApp } from '../app';
import { createStaffUser } from '../auth/auth.service';
import { toContext, type RewardContext } from '../deps';
import type { Role } from '../roles';

export interface RewardTestKit {
  db: TestDatabase;
  url: string;
  keyring: Keyring;
  ctx: RewardContext;
  clock: { now: Date; set(iso: string): void };
  /** Creates a user with these roles and returns a session token. */
  userWithRoles(roles: Role[], username?: string): Promise<{ token: string; username: string; password: string }>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests assert response bodies by value
  api(token: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string; headers: Headers; bytes: Buffer }>;
  close(): Promise<void>;
}

export async function startRewardTestKit(startAt = '2022-12-01T00:00:00+08:00'): Promise<RewardTestKit> {
  const db = await createTestDatabase(4);
  const keyring = createKeyring({ current: randomBytes(32) });
  const clock = { now: new Date(startAt), set(iso: string) { this.now = new Date(iso); } };
  const deps = { db: db.db, keyring, logger: createLogger({ level: 'silent', service: 'reward-test' }), clock: () => clock.now, scryptCost: 2 ** 10 };
  const ctx = toContext(deps);
  const app = createRewardApp(deps);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let n = 0;
  const kit: RewardTestKit = {
    db,
    url,
    keyring,
    ctx,
    clock,
    async userWithRoles(roles, username = `u${++n}-${roles.join('-').replace(/_/g, '')}`) {
      const password = `pw-${randomBytes(8).toString('hex')}`;
      await createStaffUser(ctx, 'test', { username, roles, password });
      const r = await kit.api(undefined, 'POST', '/api/auth/login', { username, password });
      if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.text}`);
      return { token: (r.json as { token: string }).token, username, password };
    },
    async api(token, method, path, body) {
      const res = await fetch(url + path, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const bytes = Buffer.from(await res.arrayBuffer());
      const text = bytes.toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, json, text, headers: res.headers, bytes };
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.drop();
    },
  };
  return kit;
}

let personSeq = 0;

export interface FixturePerson {
  personId: string;
  name: string;
  idNumber: string;
}

/**
 * Inserts `names.length` persons employed by one employer from 2022-01-01 on, and their counts in a
 * period: counts[i] rides, last counted ride at `lastAt + i` minutes.
 */
export async function seedPersons(kit: RewardTestKit, names: string[], employer = { code: 'E001', name: '吕梁市交通运输局' }): Promise<FixturePerson[]> {
  await kit.db.db
    .insertInto('employers')
    .values({ code: employer.code, name: employer.name, type: 'agency', city_area: true })
    .onConflict((oc) => oc.column('code').doNothing())
    .execute();
  const out: FixturePerson[] = [];
  const BATCH = 1000;
  for (let i = 0; i < names.length; i += BATCH) {
    const slice = names.slice(i, i + BATCH);
    const values = slice.map((name) => {
      const idNumber = `1411021980${String(++personSeq).padStart(8, '0')}`;
      return {
        name,
        idNumber,
        row: {
          id_hash: kit.keyring.hashIdNumber(idNumber),
          id_ciphertext: kit.keyring.encrypt('pii', idNumber),
          name_ciphertext: kit.keyring.encrypt('pii', name),
          name_masked: maskName(name),
        },
      };
    });
    const rows = await kit.db.db.insertInto('persons').values(values.map((v) => v.row)).returning('person_id').execute();
    await kit.db.db
      .insertInto('employments')
      .values(rows.map((r) => ({ person_id: r.person_id, employer_code: employer.code, in_service: '[2022-01-01,)' })))
      .execute();
    rows.forEach((r, j) => out.push({ personId: r.person_id, name: values[j]!.name, idNumber: values[j]!.idNumber }));
  }
  return out;
}

/** Sets person_period_counts rows (as the aggregator would). */
export async function setCounts(kit: RewardTestKit, period: string, entries: { personId: string; rides: number; lastCountedAt: string }[]): Promise<void> {
  for (let i = 0; i < entries.length; i += 2000) {
    await kit.db.db
      .insertInto('person_period_counts')
      .values(entries.slice(i, i + 2000).map((e) => ({ person_id: e.personId, period, rides: e.rides, last_counted_at: e.lastCountedAt, rules_version: `${period.slice(0, 4)}.default` })))
      .onConflict((oc) => oc.columns(['person_id', 'period']).doUpdateSet((eb) => ({ rides: eb.ref('excluded.rides'), last_counted_at: eb.ref('excluded.last_counted_at') })))
      .execute();
  }
}
