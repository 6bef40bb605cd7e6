import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nationalIdCheckChar } from '@ridetally/domain';
import { fastParseTap, isRejection, sanitiseForQuarantine, tapContentHash, TapSchema, validateTap, type ValidationContext, type ValidTap } from './tap-validation';

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

describe('fastParseTap (the hot path without zod)', () => {
  // Values near every boundary the contract has: lengths, control characters, dates, kinds, types.
  const text = fc.oneof(
    fc.constantFrom('V1', 'R1', 'S12', '', 'x'.repeat(64), 'x'.repeat(65), 'a\u0000b', 'tab\t', '\u007f', '车站', '\ud800'),
    fc.string({ maxLength: 70 }),
  );
  const value = fc.oneof(text, fc.integer(), fc.double(), fc.constant(null), fc.boolean(), fc.constant([]), fc.constant({}));
  const dates = fc.oneof(
    fc.constantFrom(
      '2022-05-09T07:41:02+08:00',
      '2022-05-09T07:41:02.123Z',
      '2022-05-09T07:41:02',
      '2022-05-09 07:41:02Z',
      '2022-02-29T00:00:00Z',
      '2024-02-29T00:00:00Z',
      '2022-13-01T00:00:00Z',
      '2022-05-09T24:00:00Z',
      '2022-05-09T07:41:02+0800',
      '2022-05-09T07:41:02.123456789-05:30',
    ),
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    fc.string(),
  );
  const media = fc.record(
    {
      type: fc.oneof(fc.constantFrom('transit_card', 'ecard', 'qr', 'id_card', 'bus_pass', 'TRANSIT_CARD'), value),
      id: text,
      cardKind: fc.oneof(fc.constantFrom('normal', 'senior', 'discount', 'teacher', 'gold'), value),
      issuer: fc.oneof(fc.constantFrom('lvliang_union', 'alipay', 'cmcc_sim', 'visa'), value),
      colour: value,
    },
    { requiredKeys: [] },
  );
  const tapArb = fc.record(
    {
      seq: fc.oneof(fc.nat(), fc.constantFrom(-1, 1.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, -0, NaN), value),
      tappedAt: fc.oneof(dates, value),
      vehicleId: text,
      routeId: text,
      stopId: fc.oneof(text, fc.constant(null), value),
      media: fc.oneof(media, value),
      extra: value,
    },
    { requiredKeys: [] },
  );

  // Well-formed taps, then the same with one field replaced or removed (near misses).
  const goodMedia = fc.oneof(
    fc.record({ type: fc.constant('transit_card'), id: fc.constantFrom('3101000012345678', 'C'), cardKind: fc.constantFrom('normal', 'senior', 'discount', 'teacher') }),
    fc.record({ type: fc.constant('ecard'), id: fc.constant('E1'), issuer: fc.constantFrom('lvliang_union', 'alipay', 'cmcc_sim') }),
    fc.record({ type: fc.constantFrom('qr', 'id_card'), id: fc.constantFrom('acct', ID) }),
  );
  const goodTap = fc.record(
    {
      seq: fc.nat(),
      tappedAt: fc.constantFrom('2022-05-09T07:41:02+08:00', '2023-01-01T00:00:00.5Z'),
      vehicleId: fc.constantFrom('V1', 'x'.repeat(64)),
      routeId: fc.constant('R1'),
      stopId: fc.constantFrom('S1', null),
      media: goodMedia,
    },
    { requiredKeys: ['seq', 'tappedAt', 'vehicleId', 'routeId', 'media'] },
  );
  const nearMiss = fc
    .tuple(goodTap, fc.constantFrom('seq', 'tappedAt', 'vehicleId', 'routeId', 'stopId', 'media', 'extra', 'media.type', 'media.id', 'media.cardKind', 'media.issuer', 'media.extra'), fc.oneof(value, dates, text), fc.boolean())
    .map(([t, key, v, remove]) => {
      const out: Record<string, unknown> = { ...t, media: { ...t.media } };
      const [holder, k] = key.startsWith('media.') ? [out.media as Record<string, unknown>, key.slice(6)] : [out, key];
      if (remove) delete holder[k];
      else holder[k] = v;
      return out;
    });

  it('accepts only what TapSchema accepts, and yields the same tap', () => {
    let fast = 0;
    fc.assert(
      fc.property(fc.oneof(goodTap, nearMiss, tapArb, value), (raw) => {
        const quick = fastParseTap(raw);
        const full = TapSchema.safeParse(raw);
        if (quick) {
          fast++;
          expect(full.success).toBe(true);
          expect(quick).toEqual(full.data);
        }
      }),
      { numRuns: 5000 },
    );
    // The generator must reach the fast path often, or the property says little.
    expect(fast).toBeGreaterThan(300);
  });

  it('takes the well-formed taps of the contract', () => {
    expect(fastParseTap(tap())).toBeDefined();
    expect(fastParseTap(tap({ stopId: null, media: { type: 'ecard', id: 'E1', issuer: 'alipay' } }))).toBeDefined();
    expect(fastParseTap(tap({ extra: 1 }))).toBeUndefined();
    expect(fastParseTap(JSON.parse('{"__proto__": 1, "seq": 1}'))).toBeUndefined();
  });
});
