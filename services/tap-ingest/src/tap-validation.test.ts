import { describe, expect, it } from 'vitest';
import { nationalIdCheckChar } from '@ridetally/domain';
import { isRejection, sanitiseForQuarantine, tapContentHash, validateTap, type ValidationContext, type ValidTap } from './tap-validation';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const ctx: ValidationContext = { nowMs: NOW, deviceVehicleId: 'V1', rejectVehicleMismatch: false };
const ID = '11010119900307123' + nationalIdCheckChar('11010119900307123');
const tap = (o: Record<string, unknown> = {}) => ({
  seq: 7,
  tappedAt: '2022-05-09T07:41:02+08:00',
  vehicleId: 'V1',
  routeId: 'R1',
  media: { type: 'transit_card', id: '3101000012345678', cardKind: 'senior' },
  ...o,
});
const code = (raw: unknown, c = ctx) => {
  const v = validateTap(raw, 0, c);
  return isRejection(v) ? v.code : 'ok';
};

describe('validateTap', () => {
  it('accepts each media type with its rules', () => {
    expect(code(tap())).toBe('ok');
    expect(code(tap({ media: { type: 'ecard', id: 'E1', issuer: 'cmcc_sim' } }))).toBe('ok');
    expect(code(tap({ media: { type: 'qr', id: 'acct' } }))).toBe('ok');
    expect(code(tap({ media: { type: 'id_card', id: ID.toLowerCase() } }))).toBe('ok');
    expect(code(tap({ stopId: null }))).toBe('ok');
  });

  it('names the problem with a code', () => {
    expect(code(tap({ media: { type: 'transit_card', id: '1' } }))).toBe('invalid_media');
    expect(code(tap({ media: { type: 'transit_card', id: '1', cardKind: 'gold' } }))).toBe('invalid_media');
    expect(code(tap({ media: { type: 'ecard', id: '1' } }))).toBe('invalid_media');
    expect(code(tap({ media: { type: 'ecard', id: '1', issuer: 'alipay', cardKind: 'normal' } }))).toBe('invalid_media');
    expect(code(tap({ media: { type: 'bus_pass', id: '1' } }))).toBe('invalid_media');
    expect(code(tap({ media: { type: 'id_card', id: ID.slice(0, 17) + (ID.endsWith('1') ? '2' : '1') } }))).toBe('invalid_id_number');
    expect(code(tap({ media: { type: 'id_card', id: '123' } }))).toBe('invalid_id_number');
    expect(code(tap({ extra: 1 }))).toBe('unknown_field');
    expect(code(tap({ media: { type: 'qr', id: 'a', colour: 'red' } }))).toBe('unknown_field');
    expect(code(tap({ seq: -1 }))).toBe('invalid_tap');
    expect(code(tap({ seq: 1.5 }))).toBe('invalid_tap');
    expect(code(tap({ tappedAt: '2022-05-09T07:41:02' }))).toBe('invalid_tap');
    expect(code(tap({ vehicleId: '' }))).toBe('invalid_tap');
    expect(code(tap({ routeId: 'x'.repeat(65) }))).toBe('invalid_tap');
    expect(code(null)).toBe('invalid_tap');
    expect(code([1])).toBe('invalid_tap');
  });

  it('rejects implausible times: before 2022-04-01 00:00 Shanghai or over 5 minutes ahead', () => {
    expect(code(tap({ tappedAt: '2022-04-01T00:00:00+08:00' }))).toBe('ok');
    expect(code(tap({ tappedAt: '2022-03-31T15:59:59Z' }))).toBe('implausible_time');
    expect(code(tap({ tappedAt: new Date(NOW + 300_000).toISOString() }))).toBe('ok');
    expect(code(tap({ tappedAt: new Date(NOW + 301_000).toISOString() }))).toBe('implausible_time');
  });

  it('rejects another vehicle only when configured', () => {
    expect(code(tap({ vehicleId: 'V2' }))).toBe('ok');
    expect(code(tap({ vehicleId: 'V2' }), { ...ctx, rejectVehicleMismatch: true })).toBe('vehicle_mismatch');
    expect(code(tap({ vehicleId: 'V2' }), { ...ctx, deviceVehicleId: null, rejectVehicleMismatch: true })).toBe('ok');
  });

  it('never quotes an ID number in a message', () => {
    const bad = ID.slice(0, 17) + (ID.endsWith('1') ? '2' : '1');
    const v = validateTap(tap({ media: { type: 'id_card', id: bad } }), 0, ctx);
    expect(isRejection(v) && v.message).not.toContain(bad);
    const w = validateTap(tap({ media: { type: 'id_card', id: bad, foo: bad } }), 0, ctx);
    expect(JSON.stringify(w)).not.toContain(bad);
  });
});

describe('tapContentHash', () => {
  const base = validateTap(tap(), 0, ctx) as ValidTap;
  it('depends on the instant, not its spelling, and on every field', () => {
    const same = validateTap(tap({ tappedAt: '2022-05-08T23:41:02Z' }), 0, ctx) as ValidTap;
    expect(tapContentHash(same, 'k')).toEqual(tapContentHash(base, 'k'));
    expect(tapContentHash(base, 'k2')).not.toEqual(tapContentHash(base, 'k'));
    const other = validateTap(tap({ stopId: 'S1' }), 0, ctx) as ValidTap;
    expect(tapContentHash(other, 'k')).not.toEqual(tapContentHash(base, 'k'));
  });
});

describe('sanitiseForQuarantine', () => {
  const hash = (s: string) => `H(${s.trim().toUpperCase()})`;
  it('replaces ID numbers (valid anywhere, anything in an id_card media id) and removes U+0000', () => {
    const out = sanitiseForQuarantine({ seq: 1, note: ID, media: { type: 'id_card', id: '12345' }, a: ['x\u0000y', { deep: ID }] }, hash);
    expect(out).toEqual({ seq: 1, note: `id-hash:H(${ID})`, media: { type: 'id_card', id: 'id-hash:H(12345)' }, a: ['x\ufffdy', { deep: `id-hash:H(${ID})` }] });
    expect(sanitiseForQuarantine({ media: { type: 'qr', id: 'acct' } }, hash)).toEqual({ media: { type: 'qr', id: 'acct' } });
    expect(sanitiseForQuarantine({ media: { type: 'weird', id: Number('110101199003071234') } }, hash)).toEqual({ media: { type: 'weird', id: expect.stringMatching(/^id-hash:/) as unknown } });
  });
  it('replaces numbers too long to be anything but an ID number', () => {
    expect(sanitiseForQuarantine({ seq: Number('110101199003071234'), n: 42 }, hash)).toEqual({ seq: expect.stringMatching(/^id-hash:/) as unknown, n: 42 });
  });
  it('cuts deep nesting', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(JSON.stringify(sanitiseForQuarantine(deep, hash))).toContain('[nested too deep]');
  });
});
