/**
 * Live rankings (R7-R9) for any quarter or year, straight from the aggregator's counts. The same
 * domain functions compile snapshots, so a live list and a snapshot taken at the same instant agree.
 *
 * Employer shown: the one the person served on the period's last day, or, if they left during the
 * period, the last one they served in it (a list is about the period, and the award goes to whoever
 * rode in it).
 */
import { listExcludedPersons, listRankingPrefix, type Database, type DB, type RankingCountRow, type Transaction } from '@ridetally/db';
import {
  compileAnnualAwards,
  compileQuarterlyList,
  formatPeriod,
  parsePeriod,
  PeriodError,
  periodBounds,
  rankPersons,
  type CompiledList,
  type Period,
  type Rules,
  type SnapshotContentRow,
  type TiePolicy,
} from '@ridetally/domain';
import { AppError } from '@ridetally/http';
import { tieReason, type TieReason } from './reasons';
import { rulesForYear } from './rules.service';

/** A ranked row: the columns a snapshot freezes, plus the rule that placed it. */
export interface RankingRow extends SnapshotContentRow {
  explanation: string;
}

export interface RankingResult {
  period: string;
  kind: 'quarterly' | 'annual';
  tiePolicy: TiePolicy;
  rulesVersion: string;
  /** With each tie note in figures (answer only: a snapshot freezes the rows without it). */
  rows: (RankingRow & { tie: TieReason | null })[];
  totals: CompiledList<RankingCountRow>['totals'];
}

export function parsePeriodOr400(text: string): Period {
  try {
    return parsePeriod(text);
  } catch (e) {
    if (e instanceof PeriodError) throw new AppError('validation_failed', e.message);
    throw e;
  }
}

/** Shanghai calendar dates [from, to) of a period. */
export function periodDates(p: Period): { from: string; to: string } {
  const { start, end } = periodBounds(p);
  return { from: start.toISODate()!, to: end.toISODate()! };
}

export async function compileLiveList(
  db: Database | Transaction<DB>,
  period: Period,
  tiePolicy: TiePolicy,
  rules: Rules,
): Promise<CompiledList<RankingCountRow>> {
  const label = formatPeriod(period);
  const dates = periodDates(period);
  const excluded = await listExcludedPersons(db, label);
  const prefix = await listRankingPrefix(db, { period: label, limit: rules.listSize, periodFrom: dates.from, periodTo: dates.to, excludedPersons: excluded });
  const ranked = rankPersons(prefix, tiePolicy);
  return period.kind === 'year' ? compileAnnualAwards(ranked, rules, tiePolicy) : compileQuarterlyList(ranked, rules, tiePolicy);
}

export function toRankingRows(list: CompiledList<RankingCountRow>): RankingRow[] {
  return list.rows.map((r) => ({
    position: r.row.position,
    rank: r.row.rank,
    personId: r.row.personId,
    nameMasked: r.row.nameMasked,
    employerCode: r.row.employerCode,
    rides: r.row.rides,
    lastCountedAt: r.row.lastCountedAt ? r.row.lastCountedAt.toISOString() : null,
    awardCny: r.awardCny,
    tieNote: r.tieNote,
    explanation: r.explanation,
  }));
}

/** The live list of a period: rank ≤ listSize (plus ties), awards for a year; `limit` cuts by position. */
export async function liveRanking(db: Database, periodText: string, tiePolicy: TiePolicy, limit?: number): Promise<RankingResult> {
  const period = parsePeriodOr400(periodText);
  const rules = await rulesForYear(db, period.year);
  const list = await compileLiveList(db, period, tiePolicy, rules);
  const rows = toRankingRows(list).map((r) => ({ ...r, tie: tieReason(r.tieNote) }));
  return {
    period: formatPeriod(period),
    kind: period.kind === 'year' ? 'annual' : 'quarterly',
    tiePolicy,
    rulesVersion: rules.version,
    rows: limit === undefined ? rows : rows.slice(0, limit),
    totals: list.totals,
  };
}
