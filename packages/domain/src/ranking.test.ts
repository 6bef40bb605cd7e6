import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rankPersons, type RankInput } from './ranking';

const personsArb = fc.uniqueArray(
  fc.record({
    personId: fc.uuid(),
    rides: fc.integer({ min: 0, max: 12 }),
    lastCountedAt: fc.option(fc.integer({ min: 0, max: 1000 }).map((m) => new Date(Date.UTC(2022, 6, 1) + m * 60_000).toISOString()), { nil: null }),
  }),
  { selector: (p) => p.personId, maxLength: 60 },
);

describe('R7 ranking properties', () => {
  it('shared rank = 1 + persons with strictly more rides; first-reached ranks are 1..n; both list the same order', () => {
    fc.assert(
      fc.property(personsArb, (persons: RankInput[]) => {
        const shared = rankPersons(persons, 'shared');
        const fr = rankPersons(persons, 'first-reached');
        const counted = persons.filter((p) => p.rides >= 1);
        expect(shared).toHaveLength(counted.length);
        for (const r of shared) expect(r.rank).toBe(1 + counted.filter((p) => p.rides > r.rides).length);
        expect(fr.map((r) => r.rank)).toEqual(counted.map((_, i) => i + 1));
        expect(fr.map((r) => r.personId)).toEqual(shared.map((r) => r.personId));
        // input order never matters
        expect(rankPersons([...persons].reverse(), 'first-reached').map((r) => r.personId)).toEqual(fr.map((r) => r.personId));
        // within a tie, earlier last counted ride first (null last)
        for (let i = 1; i < fr.length; i++) {
          const a = fr[i - 1]!;
          const b = fr[i]!;
          if (a.rides === b.rides && a.lastCountedAt !== null && b.lastCountedAt !== null) {
            expect(Date.parse(a.lastCountedAt as string) <= Date.parse(b.lastCountedAt as string)).toBe(true);
          }
          if (a.rides === b.rides && a.lastCountedAt === null) expect(b.lastCountedAt).toBeNull();
        }
      }),
      { numRuns: 300 },
    );
  });
});
