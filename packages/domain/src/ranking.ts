/**
 * R7 ranking: eligible persons ordered by counted rides, descending. Two tie policies:
 * - `shared` (default): equal counts share a rank, the next rank skips (1, 2, 2, 4);
 * - `first-reached`: equal counts are ordered by the time of the person's last counted ride in the
 *   period (earlier first: they reached the count first), then by person id; every rank is unique.
 * Under `shared` the display order inside a tie uses the same keys, so lists are deterministic.
 */
import type { TiePolicy } from './rules';

export interface RankInput {
  personId: string;
  rides: number;
  /** Time of the person's last counted ride in the period (ISO string or Date); null sorts last. */
  lastCountedAt: string | Date | null;
}

export type Ranked<T extends RankInput> = T & {
  /** 1-based rank under the policy. */
  rank: number;
  /** 1-based position in the list (unique). */
  position: number;
  /** Number of persons with the same ride count (1 = no tie). */
  tieSize: number;
  /** First and last position of this person's tie group on ride count. */
  tieFrom: number;
  tieTo: number;
};

function instant(v: string | Date | null): number {
  if (v === null) return Number.POSITIVE_INFINITY;
  return v instanceof Date ? v.getTime() : Date.parse(v);
}

/** The deterministic list order: rides desc, last counted ride asc (null last), person id asc. */
export function compareForRanking(a: RankInput, b: RankInput): number {
  if (a.rides !== b.rides) return b.rides - a.rides;
  const ta = instant(a.lastCountedAt);
  const tb = instant(b.lastCountedAt);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.personId < b.personId ? -1 : a.personId > b.personId ? 1 : 0;
}

/**
 * Ranks persons with at least one counted ride (a count of 0 is not a ranking, R8). Input order does
 * not matter; the result is in list order.
 */
export function rankPersons<T extends RankInput>(rows: readonly T[], policy: TiePolicy): Ranked<T>[] {
  const sorted = rows.filter((r) => r.rides >= 1).sort(compareForRanking);
  const out: Ranked<T>[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1]!.rides === sorted[i]!.rides) j++;
    for (let k = i; k <= j; k++) {
      out.push({
        ...sorted[k]!,
        rank: policy === 'shared' ? i + 1 : k + 1,
        position: k + 1,
        tieSize: j - i + 1,
        tieFrom: i + 1,
        tieTo: j + 1,
      });
    }
    i = j + 1;
  }
  return out;
}
