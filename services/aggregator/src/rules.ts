/**
 * The rules in force per programme year: the version the office stored (programme_years →
 * rules_versions) over the defaults, else `defaultRules(year)`. Grouping windows (R4, R14) must be
 * equal across years: a ride spanning New Year's Eve would otherwise depend on which year's rules
 * grouped it, and the incremental path and the recompute could disagree.
 */
import { findProgrammeRules, type Database, type Transaction, type DB } from '@ridetally/db';
import { defaultRules, type Rules } from '@ridetally/domain';

export interface RuleBook {
  rulesFor(year: number): Rules;
  rideGroupSeconds: number;
  volumeRepeatSeconds: number;
}

export class RulesConfigError extends Error {
  override name = 'RulesConfigError';
}

export function buildRuleBook(
  stored: readonly { year: number; version: string; rules: unknown }[],
): RuleBook {
  const byYear = new Map<number, Rules>();
  for (const s of stored) {
    const custom = typeof s.rules === 'object' && s.rules !== null ? (s.rules as Partial<Rules>) : {};
    byYear.set(s.year, { ...defaultRules(s.year), ...custom, version: s.version, year: s.year });
  }
  const rulesFor = (year: number): Rules => {
    let r = byYear.get(year);
    if (!r) {
      r = defaultRules(year);
      byYear.set(year, r);
    }
    return r;
  };
  const base = defaultRules(2022);
  const all = [base, ...[...byYear.values()]];
  const group = new Set(all.map((r) => r.rideGroupSeconds));
  const repeat = new Set(all.map((r) => r.volumeRepeatSeconds));
  if (group.size > 1 || repeat.size > 1) {
    throw new RulesConfigError(
      'rideGroupSeconds and volumeRepeatSeconds must be equal in every programme year',
    );
  }
  return { rulesFor, rideGroupSeconds: base.rideGroupSeconds, volumeRepeatSeconds: base.volumeRepeatSeconds };
}

export async function loadRuleBook(db: Database | Transaction<DB>): Promise<RuleBook> {
  return buildRuleBook(await findProgrammeRules(db));
}
