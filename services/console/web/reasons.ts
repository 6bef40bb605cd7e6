/**
 * What the server explains, said in the console's language. The staff API sends each rule
 * explanation twice: an English sentence (for API clients) and a stable code with its figures
 * (services/reward/src/reason-codes.ts). The console says the code with its `reason.<code>` message;
 * the English sentence shows only for a code this console does not know yet (a newer server).
 * Anomaly details are the fields of R13's records, labelled here.
 */
import type { Reason, TieReason } from './endpoints.js';
import { formatDateTime, formatFigure } from './format.js';
import { MESSAGES, t, type MessageKey } from './i18n.js';

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

function isKey(key: string): key is MessageKey {
  return key in MESSAGES.en;
}

function figures(params: Record<string, string | number>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, typeof v === 'number' ? formatFigure(v) : v]));
}

/** A rule explanation in the current language; `english` when the code is unknown or missing. */
export function describeReason(reason: Reason | null | undefined, english: string): string {
  if (!reason) return english;
  const key = `reason.${reason.code}`;
  return isKey(key) ? t(key, figures(reason.params)) : english;
}

/** A tie note (R7/R9) in the current language; the note as frozen when it came without figures. */
export function describeTie(tie: TieReason | null | undefined, note: string | null | undefined): string {
  if (!tie) return note ?? '';
  const lines = [
    ...(tie.listLine !== null ? [t('tieNote.crossList', { n: formatFigure(tie.listLine) })] : []),
    ...tie.tierBoundariesAfter.map((rank) => t('tieNote.crossTier', { rank: formatFigure(rank) })),
  ];
  const common = { size: formatFigure(tie.size), rides: formatFigure(tie.rides), from: formatFigure(tie.fromPosition), to: formatFigure(tie.toPosition), crossing: lines.join(t('tieNote.and')) };
  return tie.policy === 'shared' && tie.rank !== null ? t('tieNote.shared', { ...common, rank: formatFigure(tie.rank) }) : t('tieNote.firstReached', common);
}

function detailValue(v: unknown): string | null {
  if (typeof v === 'number') return formatFigure(v);
  if (typeof v === 'boolean') return t(v ? 'common.yes' : 'common.no');
  if (typeof v === 'string') return ISO_INSTANT.test(v) ? formatDateTime(v) : v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.map((x) => detailValue(x)).join(' / ');
  return null;
}

/** An anomaly's details (R13) as labelled figures: "日期：2022-11-02 · 有效乘车次数：14". */
export function describeAnomalyDetails(details: unknown): string {
  if (!details || typeof details !== 'object' || Array.isArray(details)) return '';
  return Object.entries(details as Record<string, unknown>)
    .flatMap(([field, v]) => {
      const value = detailValue(v);
      if (value === null) return [];
      const key = `anomaly.detail.${field}`;
      return [t('anomaly.detailPair', { label: isKey(key) ? t(key) : field, value })];
    })
    .join(' · ');
}
