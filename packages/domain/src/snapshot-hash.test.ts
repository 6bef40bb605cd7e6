import { describe, expect, it } from 'vitest';
import { canonicalJson, snapshotContentSha256, type SnapshotContent } from './snapshot-hash';

const content: SnapshotContent = {
  kind: 'quarterly',
  period: '2022-Q3',
  rulesVersion: '2022.default',
  rules: { b: 1, a: [1, 2] },
  tiePolicy: 'shared',
  dataCutoff: '2022-10-11T00:00:00+08:00',
  rows: [
    { position: 2, rank: 2, personId: 'b', nameMasked: '李*', employerCode: null, rides: 3, lastCountedAt: null, awardCny: null, tieNote: null },
    { position: 1, rank: 1, personId: 'a', nameMasked: '张*三', employerCode: 'E1', rides: 4, lastCountedAt: '2022-09-01T08:00:00+08:00', awardCny: null, tieNote: null },
  ],
  totals: { persons: 2 },
};

describe('R10 snapshot hash', () => {
  it('sorts keys and is independent of key order and instant notation', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x'], c: null } })).toBe('{"a":{"c":null,"d":[1,"x"]},"b":1}');
    const same = { ...content, dataCutoff: '2022-10-10T16:00:00.000Z', rows: [...content.rows].reverse(), rules: { a: [1, 2], b: 1 } };
    expect(snapshotContentSha256(same)).toBe(snapshotContentSha256(content));
  });
  it('changes with any row value', () => {
    const edited = { ...content, rows: content.rows.map((r) => (r.personId === 'a' ? { ...r, rides: 5 } : r)) };
    expect(snapshotContentSha256(edited)).not.toBe(snapshotContentSha256(content));
    expect(snapshotContentSha256(content)).toMatch(/^[0-9a-f]{64}$/);
  });
});
