/**
 * Comparing the platform to the ground truth: pure functions over rows the verifier reads from the
 * ground-truth folder and from the platform. Persons are matched through the external-ref → person
 * id map (persons.csv, or keyed ID-number lookups); differences name refs and person ids only.
 */
export interface CountRow {
  key: string;
  rides: number;
}

export interface CountDifference {
  period: string;
  externalRef: string | null;
  personId: string | null;
  expected: number;
  actual: number;
}

/**
 * Per-person differences of one period. `expected` is keyed by external ref, `actual` by platform
 * person id; persons absent on one side count 0 there.
 */
export function compareCounts(
  period: string,
  expected: readonly CountRow[],
  actual: readonly CountRow[],
  personIdOf: ReadonlyMap<string, string>,
): CountDifference[] {
  const refOf = new Map<string, string>();
  for (const [ref, id] of personIdOf) refOf.set(id, ref);
  const actualById = new Map(actual.filter((r) => r.rides > 0).map((r) => [r.key, r.rides]));
  const differences: CountDifference[] = [];
  const seen = new Set<string>();
  for (const row of expected) {
    const personId = personIdOf.get(row.key) ?? null;
    const got = personId ? (actualById.get(personId) ?? 0) : 0;
    if (personId) seen.add(personId);
    if (got !== row.rides || !personId)
      differences.push({ period, externalRef: row.key, personId, expected: row.rides, actual: got });
  }
  for (const [personId, rides] of actualById) {
    if (!seen.has(personId))
      differences.push({
        period,
        externalRef: refOf.get(personId) ?? null,
        personId,
        expected: 0,
        actual: rides,
      });
  }
  return differences.sort((a, b) => ((a.externalRef ?? '~') < (b.externalRef ?? '~') ? -1 : 1));
}

export interface RankRow {
  key: string;
  rank: number;
  rides: number;
}

export interface RankDifference {
  period: string;
  externalRef: string | null;
  personId: string | null;
  expected: { rank: number; rides: number } | null;
  actual: { rank: number; rides: number } | null;
}

/** Differences between the expected list (shared ranks, already cut to the list) and the platform's. */
export function compareRankings(
  period: string,
  expected: readonly RankRow[],
  actual: readonly RankRow[],
  personIdOf: ReadonlyMap<string, string>,
): RankDifference[] {
  const refOf = new Map<string, string>();
  for (const [ref, id] of personIdOf) refOf.set(id, ref);
  const actualById = new Map(actual.map((r) => [r.key, r]));
  const differences: RankDifference[] = [];
  const seen = new Set<string>();
  for (const row of expected) {
    const personId = personIdOf.get(row.key) ?? null;
    const got = personId ? actualById.get(personId) : undefined;
    if (personId) seen.add(personId);
    if (!got || got.rank !== row.rank || got.rides !== row.rides) {
      differences.push({
        period,
        externalRef: row.key,
        personId,
        expected: { rank: row.rank, rides: row.rides },
        actual: got ? { rank: got.rank, rides: got.rides } : null,
      });
    }
  }
  for (const row of actual) {
    if (!seen.has(row.key))
      differences.push({
        period,
        externalRef: refOf.get(row.key) ?? null,
        personId: row.key,
        expected: null,
        actual: { rank: row.rank, rides: row.rides },
      });
  }
  return differences;
}

/** The expected list of a period from the shared-rank truth: R8 (quarter) or R9 (year). */
export function expectedList(
  period: string,
  ranked: readonly RankRow[],
  listSize = 2000,
  annualMinRides = 300,
): RankRow[] {
  const annual = /^\d{4}$/.test(period);
  return ranked.filter((r) => r.rank <= listSize && r.rides >= (annual ? annualMinRides : 1));
}

export interface VolumeRow {
  serviceDate: string;
  routeId: string;
  boardings: number;
  taps: number;
}

export interface VolumeDifference {
  serviceDate: string;
  routeId: string;
  expected: { boardings: number; taps: number };
  actual: { boardings: number; taps: number };
}

export function compareVolume(
  expected: readonly VolumeRow[],
  actual: readonly VolumeRow[],
): VolumeDifference[] {
  const key = (r: VolumeRow): string => `${r.serviceDate}|${r.routeId}`;
  const actualByKey = new Map(actual.map((r) => [key(r), r]));
  const expectedKeys = new Set(expected.map(key));
  const differences: VolumeDifference[] = [];
  for (const e of expected) {
    const a = actualByKey.get(key(e)) ?? { boardings: 0, taps: 0 };
    if (a.boardings !== e.boardings || a.taps !== e.taps) {
      differences.push({
        serviceDate: e.serviceDate,
        routeId: e.routeId,
        expected: { boardings: e.boardings, taps: e.taps },
        actual: { boardings: a.boardings, taps: a.taps },
      });
    }
  }
  for (const a of actual) {
    if (!expectedKeys.has(key(a)) && (a.boardings !== 0 || a.taps !== 0)) {
      differences.push({
        serviceDate: a.serviceDate,
        routeId: a.routeId,
        expected: { boardings: 0, taps: 0 },
        actual: { boardings: a.boardings, taps: a.taps },
      });
    }
  }
  return differences;
}
