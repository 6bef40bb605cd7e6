/**
 * `ridetally keys rotate` end to end against real PostgreSQL: a city seeded and counted under the
 * old master key (persons, ID-card bindings with a re-issued card, a replaced transit card, ID-card
 * taps posted through the real ingest, an unregistered ID card, a device with a previous secret, a
 * rider-app client, a staff session); a tap posted under the new key before the rotation (the
 * window); the CLI killed (SIGKILL) between batches and re-run; then everything readable with the
 * new key alone, counts unchanged, recompute --check clean, a re-run a no-op, a resend of an old
 * tap a duplicate and a new ID-card tap counted for the same person.
 */
import { spawn, execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processOutboxEntry, recomputePeriod } from '@ridetally/aggregator';
import { findPendingOutboxIds, insertDevice, insertSession, rotateDeviceSecret, sql, type Database } from '@ridetally/db';
import { createTestDatabase, type TestDatabase } from '@ridetally/db/testing';
import { nationalIdCheckChar } from '@ridetally/domain';
import { generateMasterKey, keyringFromEnv, type Keyring } from '@ridetally/keyring';
import { bindMedium, createApiClient, idCardTapContentHash, rateRide, registerPerson, type RegistryDeps } from '@ridetally/registry';
import { createIngestApp, signTapRequest } from '@ridetally/tap-ingest';
// The CLI package does not depend on telemetry; the ingest app needs a logger and a metrics registry.
import { createLogger, createMetricsRegistry } from '../../../../packages/telemetry/src/index';

const execFileP = promisify(execFile);
const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'main.ts');
const OLD = generateMasterKey();
const NEW = generateMasterKey();
const oldKr = keyringFromEnv(OLD);
const windowKr = keyringFromEnv(NEW, OLD);
const newKr = keyringFromEnv(NEW);
const SECRET = 'a'.repeat(64);

const idOf = (n: number) => {
  const first17 = `14010219851001${String(n).padStart(3, '0')}`;
  return first17 + nationalIdCheckChar(first17);
};
const PERSONS = 8;
const IDS = Array.from({ length: PERSONS }, (_, i) => idOf(i));
const ORPHAN_ID = idOf(50);
const NAMES = Array.from({ length: PERSONS }, (_, i) => `王小${'一二三四五六七八'[i]}`);

let tdb: TestDatabase;
let db: Database;

function cliEnv(current: string, previous?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: tdb.url, RIDETALLY_MASTER_KEY: current, LOG_LEVEL: 'silent' };
  if (previous) env.RIDETALLY_MASTER_KEY_PREVIOUS = previous;
  else delete env.RIDETALLY_MASTER_KEY_PREVIOUS;
  return env;
}

async function cli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileP(process.execPath, ['--import', 'tsx', MAIN, ...args], { env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Applies every pending outbox entry, as the aggregator's workers do. */
async function drain(): Promise<void> {
  for (;;) {
    const ids = await findPendingOutboxIds(db, 500);
    if (ids.length === 0) return;
    for (const id of ids) await processOutboxEntry(db, id);
  }
}

/** Posts taps through the real ingest app running with the given keyring; returns per-tap outcome counts. */
async function post(keyring: Keyring, taps: object[]): Promise<{ accepted: number; duplicates: number; rejected: unknown[] }> {
  const ingest = createIngestApp({ db, keyring, logger: createLogger({ level: 'silent', service: 'keys-test' }), registry: createMetricsRegistry('keys-test') });
  const server = await new Promise<import('node:http').Server>((resolve) => {
    const s = ingest.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    const { port } = server.address() as import('node:net').AddressInfo;
    const body = JSON.stringify({ taps });
    const ts = String(Math.floor(Date.now() / 1000));
    const res = await fetch(`http://127.0.0.1:${port}/v1/taps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-device-id': 'D1', 'x-timestamp': ts, 'x-signature': signTapRequest(SECRET, ts, body) },
      body,
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { accepted: number; duplicates: number; rejected: unknown[] };
  } finally {
    await ingest.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

let seq = 0;
const idTap = (id: string, tappedAt: string, vehicleId = 'V1') => ({ seq: ++seq, tappedAt, vehicleId, routeId: 'R1', stopId: 'S1', media: { type: 'id_card', id } });

async function counts(): Promise<{ persons: string; volume: string }> {
  const p = await sql<{ person_id: string; period: string; rides: number }>`SELECT person_id, period, rides FROM person_period_counts WHERE rides > 0 ORDER BY 1, 2`.execute(db);
  const v = await sql<{ service_date: string; route_id: string; boardings: number; taps: number }>`SELECT service_date, route_id, boardings, taps FROM volume_daily ORDER BY 1, 2`.execute(db);
  return { persons: JSON.stringify(p.rows), volume: JSON.stringify(v.rows) };
}

async function tapIdsOf(personIndex: number): Promise<number[]> {
  const { rows } = await sql<{ tap_id: number }>`
    SELECT t.tap_id FROM taps t JOIN persons p ON p.id_hash = t.media_key
    WHERE t.media_type = 'id_card' AND p.id_ciphertext IS NOT NULL AND p.person_id = ${personIds[personIndex]!}::uuid ORDER BY 1`.execute(db);
  return rows.map((r) => r.tap_id);
}

async function ridesContaining(tapId: number): Promise<{ person_id: string }[]> {
  return (await sql<{ person_id: string }>`SELECT person_id FROM rides WHERE ${tapId}::int8 = ANY(tap_ids)`.execute(db)).rows;
}

const personIds: string[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase(4);
  db = tdb.db;
});
afterAll(async () => {
  await tdb?.drop();
});

describe('ridetally keys rotate', () => {
  it('re-keys a counted city, survives a SIGKILL, keeps every count, then works with the new key alone', { timeout: 600_000 }, async () => {
    // ------------------------------------------------------------ the city under the old key
    const oldDeps: RegistryDeps = { db, keyring: oldKr, now: () => new Date() };
    await sql`INSERT INTO routes (route_id, short_name, is_city) VALUES ('R1', '1路', true)`.execute(db);
    await sql`INSERT INTO employers (code, name, type, city_area) VALUES ('E1', '市财政局', 'agency', true)`.execute(db);
    for (let i = 0; i < PERSONS; i++) {
      const { personId } = await registerPerson(oldDeps, { idNumber: IDS[i]!, name: NAMES[i]!, phone: `1380000000${i}` });
      personIds.push(personId);
      await sql`INSERT INTO employments (person_id, employer_code, in_service) VALUES (${personId}::uuid, 'E1', '[2022-01-01,)'::daterange)`.execute(db);
      if (i === 0) {
        // ID card lost and re-issued (same number): two bindings of one key, back to back.
        await bindMedium(oldDeps, { personId, type: 'id_card', id: 'self', validFrom: '2022-04-01', validTo: '2022-07-15' });
        await bindMedium(oldDeps, { personId, type: 'id_card', id: IDS[0]!, validFrom: '2022-07-16' });
      } else {
        await bindMedium(oldDeps, { personId, type: 'id_card', id: 'self', validFrom: '2022-04-01' });
      }
    }
    // A replaced transit card (not keyed: must come through untouched).
    await bindMedium(oldDeps, { personId: personIds[1]!, type: 'transit_card', id: 'TC-OLD', kind: 'normal', validFrom: '2022-04-01', validTo: '2022-07-31' });
    await bindMedium(oldDeps, { personId: personIds[1]!, type: 'transit_card', id: 'TC-NEW', kind: 'normal', validFrom: '2022-08-01' });
    await insertDevice(db, { deviceId: 'D1', vehicleId: 'V1', secretCiphertext: oldKr.encrypt('device-secret', 'old-secret') });
    await rotateDeviceSecret(db, 'D1', oldKr.encrypt('device-secret', SECRET), new Date(Date.now() + 86_400_000), new Date());
    const client = await createApiClient(oldDeps, '掌上公交');
    const { rows: users } = await sql<{ user_id: string }>`
      INSERT INTO staff_users (username, roles, password_hash) VALUES ('ops', ARRAY['admin'], 'x') RETURNING user_id`.execute(db);
    await insertSession(db, { tokenHash: oldKr.hashToken('staff-token'), userId: users[0]!.user_id, createdAt: new Date(), expiresAt: new Date(Date.now() + 3600_000) });

    // Taps: every person rides on several July/August days, twice a day; repeats within a minute
    // (volume R14); the orphan ID card; the transit cards.
    const taps: object[] = [];
    for (let i = 0; i < PERSONS; i++) {
      for (let d = 10; d <= 20; d += 2) {
        taps.push(idTap(IDS[i]!, `2022-07-${d}T08:0${i}:00+08:00`));
        taps.push(idTap(IDS[i]!, `2022-07-${d}T08:0${i}:30+08:00`));
        taps.push(idTap(IDS[i]!, `2022-08-${d}T18:1${i}:00+08:00`, 'V2'));
      }
    }
    for (let d = 10; d <= 14; d++) taps.push(idTap(ORPHAN_ID, `2022-07-${d}T09:00:00+08:00`));
    taps.push({ seq: ++seq, tappedAt: '2022-07-20T10:00:00+08:00', vehicleId: 'V1', routeId: 'R1', media: { type: 'transit_card', id: 'TC-OLD', cardKind: 'normal' } });
    taps.push({ seq: ++seq, tappedAt: '2022-08-20T10:00:00+08:00', vehicleId: 'V1', routeId: 'R1', media: { type: 'transit_card', id: 'TC-NEW', cardKind: 'normal' } });
    const first = await post(oldKr, taps);
    expect(first).toMatchObject({ accepted: taps.length, rejected: [] });
    await drain();
    // Ratings make rides count (R5): every ride of July is rated.
    for (let i = 0; i < PERSONS; i++) {
      const { rows } = await sql<{ first_tap_id: number; tapped_at: Date }>`
        SELECT first_tap_id, tapped_at FROM rides WHERE person_id = ${personIds[i]!}::uuid ORDER BY tapped_at`.execute(db);
      for (const r of rows.slice(0, 6)) {
        await rateRide(oldDeps, { personId: personIds[i]!, tapId: r.first_tap_id, score: 5, ratedAt: new Date(r.tapped_at.getTime() + 3600_000) });
      }
    }
    await drain();
    const before = await counts();
    expect(JSON.parse(before.persons)).toHaveLength(PERSONS * 2); // each person: 2022-Q3 and 2022
    const resendable = taps[0] as { seq: number };

    // ------------------------------------------------------------ the window: new key deployed, previous kept
    // An ID-card tap arrives under the new key while its holder's binding is still under the old one.
    const earlyTap = idTap(IDS[2]!, '2022-08-25T07:30:00+08:00');
    expect(await post(windowKr, [earlyTap])).toMatchObject({ accepted: 1 });
    await drain();
    const { rows: early } = await sql<{ tap_id: number }>`SELECT tap_id FROM tap_keys WHERE device_id = 'D1' AND seq = ${earlyTap.seq}`.execute(db);
    const earlyTapId = early[0]!.tap_id;
    expect(await ridesContaining(earlyTapId)).toEqual([]); // not attributable yet: the keys differ

    const windowEnv = cliEnv(NEW, OLD);
    const dry = await cli(windowEnv, 'keys', 'rotate', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    const dryReport = JSON.parse(dry.stdout) as { changed: Record<string, number> };
    const idCardTaps = PERSONS * 18 + 5; // the early tap is already under the new key
    expect(dryReport.changed).toEqual({ devices: 1, persons: PERSONS, idCardBindings: PERSONS + 1, idCardTaps, tapKeys: idCardTaps, staffSessionsRevoked: 0 });
    expect(await cli(windowEnv, 'keys', 'status')).toMatchObject({ code: 1 });

    // ------------------------------------------------------------ a crash between batches
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'keys', 'rotate', '--batch-size', '1'], { env: windowEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
        if (/keys rotate: persons 1\//.test(stderr)) child.kill('SIGKILL');
      });
      child.on('exit', () => resolve());
      child.on('error', reject);
    });
    expect(child.signalCode).toBe('SIGKILL');
    const { rows: half } = await sql<{ old: number }>`
      SELECT count(*)::int AS old FROM persons WHERE encode(substring(id_ciphertext FROM 2 FOR 4), 'hex') = ${oldKr.keyId}`.execute(db);
    expect(half[0]!.old).toBeGreaterThan(0);
    expect(half[0]!.old).toBeLessThan(PERSONS);
    // Half-way, the workers still count right: every person is wholly under one key.
    await drain();
    expect((await recomputePeriod(db, '2022', { check: true })).differenceCount).toBe(0);

    // ------------------------------------------------------------ re-run completes
    const rerun = await cli(windowEnv, 'keys', 'rotate', '--json');
    expect(rerun.code).toBe(0);
    const report = JSON.parse(rerun.stdout) as { after: Record<string, number>; changed: Record<string, number>; clientsToReissue: { clientId: string }[] };
    expect(report.after).toEqual({ devices: 0, persons: 0, idCardBindings: 0, idCardTaps: 0 });
    expect(report.changed.staffSessionsRevoked).toBe(1);
    expect(report.changed.persons).toBe(half[0]!.old);
    expect(report.clientsToReissue.map((c) => c.clientId)).toEqual([client.clientId]);
    for (const out of [stderr, rerun.stdout, rerun.stderr, dry.stdout]) {
      for (const secret of [...IDS, ORPHAN_ID, ...NAMES, OLD, NEW, SECRET]) expect(out).not.toContain(secret);
    }

    // ------------------------------------------------------------ after: counts unchanged, the early tap counted
    await drain();
    expect((await ridesContaining(earlyTapId)).map((r) => r.person_id)).toEqual([personIds[2]]);
    const after = await counts();
    expect(after.volume).not.toBe(before.volume); // the early tap is one more boarding …
    const { rows: vol } = await sql<{ boardings: number }>`SELECT coalesce(sum(boardings), 0)::int AS boardings FROM volume_daily`.execute(db);
    expect(vol[0]!.boardings).toBe(PERSONS * 12 + 5 + 2 + 1); // … and the repeats within a minute are still repeats
    expect(after.persons).toBe(before.persons); // the early tap's ride is not rated: person counts unchanged
    expect((await recomputePeriod(db, '2022', { check: true })).differenceCount).toBe(0);

    // ------------------------------------------------------------ readable with the new key alone
    const { rows: persons } = await sql<{ person_id: string; id_hash: string; id_ciphertext: Buffer; name_ciphertext: Buffer; phone_ciphertext: Buffer }>`
      SELECT person_id, id_hash, id_ciphertext, name_ciphertext, phone_ciphertext FROM persons ORDER BY person_id`.execute(db);
    for (const p of persons) {
      const i = personIds.indexOf(p.person_id);
      expect(newKr.decryptString('pii', p.id_ciphertext)).toBe(IDS[i]);
      expect(newKr.decryptString('pii', p.name_ciphertext)).toBe(NAMES[i]);
      expect(newKr.decryptString('pii', p.phone_ciphertext)).toBe(`1380000000${i}`);
      expect(p.id_hash).toBe(newKr.hashIdNumber(IDS[i]!));
    }
    const { rows: bindings } = await sql<{ person_id: string; media_type: string; media_key: string }>`
      SELECT person_id, media_type, media_key FROM media_bindings ORDER BY id`.execute(db);
    expect(bindings).toHaveLength(PERSONS + 1 + 2);
    for (const b of bindings.filter((x) => x.media_type === 'id_card')) expect(b.media_key).toBe(newKr.hashIdNumber(IDS[personIds.indexOf(b.person_id)]!));
    expect(bindings.filter((x) => x.media_type === 'transit_card').map((b) => b.media_key)).toEqual(['TC-OLD', 'TC-NEW']);
    const { rows: idTaps } = await sql<{ seq: number; tapped_at: Date; vehicle_id: string; route_id: string; stop_id: string | null; media_kind: string | null; media_key: string; media_ciphertext: Buffer; content_hash: string }>`
      SELECT t.seq, t.tapped_at, t.vehicle_id, t.route_id, t.stop_id, t.media_kind, t.media_key, t.media_ciphertext, encode(k.content_hash, 'hex') AS content_hash
      FROM taps t JOIN tap_keys k ON k.device_id = t.device_id AND k.seq = t.seq WHERE t.media_type = 'id_card'`.execute(db);
    expect(idTaps).toHaveLength(idCardTaps + 1);
    for (const t of idTaps) {
      const id = newKr.decryptString('pii', t.media_ciphertext);
      expect(t.media_key).toBe(newKr.hashIdNumber(id));
      expect(t.content_hash).toBe(idCardTapContentHash(t, t.media_key));
    }
    const { rows: dev } = await sql<{ secret_ciphertext: Buffer; previous_secret_ciphertext: Buffer }>`SELECT secret_ciphertext, previous_secret_ciphertext FROM devices`.execute(db);
    expect(newKr.decryptString('device-secret', dev[0]!.secret_ciphertext)).toBe(SECRET);
    expect(newKr.decryptString('device-secret', dev[0]!.previous_secret_ciphertext)).toBe('old-secret');
    const { rows: sessions } = await sql<{ revoked_at: Date | null }>`SELECT revoked_at FROM staff_sessions`.execute(db);
    expect(sessions[0]!.revoked_at).not.toBeNull();

    const newEnv = cliEnv(NEW);
    const status = await cli(newEnv, 'keys', 'rotate', '--check');
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('nothing left under another key');

    // ------------------------------------------------------------ a re-run is a no-op
    const again = await cli(windowEnv, 'keys', 'rotate', '--json');
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as { changed: Record<string, number> }).changed).toEqual({ devices: 0, persons: 0, idCardBindings: 0, idCardTaps: 0, tapKeys: 0, staffSessionsRevoked: 0 });

    // ------------------------------------------------------------ ingest with the new key alone
    // A resend of a tap stored under the old key is a duplicate (its content hash was re-keyed) …
    expect(await post(newKr, [resendable])).toMatchObject({ accepted: 0, duplicates: 1, rejected: [] });
    // … and a new ID-card tap resolves to the same person.
    const late = idTap(IDS[3]!, '2022-09-01T07:00:00+08:00');
    expect(await post(newKr, [late])).toMatchObject({ accepted: 1 });
    await drain();
    const { rows: lateRow } = await sql<{ tap_id: number }>`SELECT tap_id FROM tap_keys WHERE device_id = 'D1' AND seq = ${late.seq}`.execute(db);
    expect((await ridesContaining(lateRow[0]!.tap_id)).map((r) => r.person_id)).toEqual([personIds[3]]);
    expect(await tapIdsOf(3)).toContain(lateRow[0]!.tap_id);
    expect((await recomputePeriod(db, '2022', { check: true })).differenceCount).toBe(0);

    // ------------------------------------------------------------ audited, one entry per completed run, no PII
    const { rows: audit } = await sql<{ action: string; subject: string; details: Record<string, unknown> }>`
      SELECT action, subject, details FROM audit_log WHERE action = 'keys.rotate' ORDER BY id`.execute(db);
    expect(audit).toHaveLength(2); // the re-run and the no-op run; the killed run never reached its end
    expect(audit[0]!.subject).toBe(`${oldKr.keyId}->${newKr.keyId}`);
    expect(audit[0]!.details).toMatchObject({ outcome: 'completed', after: { devices: 0, persons: 0, idCardBindings: 0, idCardTaps: 0 } });
    const text = JSON.stringify(audit);
    for (const secret of [...IDS, ORPHAN_ID, ...NAMES]) expect(text).not.toContain(secret);
  });
});
