/** Numbers, money and instants the way a reader in Lüliang expects them: Shanghai time, grouped digits. */
import { getLocale } from './i18n.js';

const TZ = 'Asia/Shanghai';

function tag(): string {
  return getLocale() === 'zh-CN' ? 'zh-CN' : 'en-GB';
}

/** 35950000 → "35,950,000". */
export function formatNumber(n: number | null | undefined, fractionDigits = 0): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return new Intl.NumberFormat(tag(), { minimumFractionDigits: fractionDigits, maximumFractionDigits: fractionDigits }).format(n);
}

/** A figure of a rule explanation: grouped digits, up to two decimals as given (97.2, 1,039,000). */
export function formatFigure(n: number): string {
  return new Intl.NumberFormat(tag(), { maximumFractionDigits: 2 }).format(n);
}

/** Amounts in yuan: "¥1,000". */
export function formatCny(n: number | string | null | undefined): string {
  if (n === null || n === undefined || n === '') return '—';
  const v = typeof n === 'string' ? Number(n) : n;
  return `¥${formatNumber(v, Number.isInteger(v) ? 0 : 2)}`;
}

export function formatPercent(ratio: number | null | undefined, digits = 1): string {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return '—';
  return `${formatNumber(ratio * 100, digits)} %`;
}

function parts(d: Date, withTime: boolean): Record<string, string> {
  const f = new Intl.DateTimeFormat('en-CA', {
    timeZone: TZ,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    ...(withTime ? { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' as const } : {}),
  });
  const out: Record<string, string> = {};
  for (const p of f.formatToParts(d)) out[p.type] = p.value;
  return out;
}

/** An instant in Shanghai time, "2022-05-09 07:41:02" (unambiguous in both languages). */
export function formatDateTime(iso: string | Date | null | undefined): string {
  if (!iso) return '—';
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = parts(d, true);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

/** A Shanghai calendar date; a plain 'yyyy-MM-dd' is shown as is. */
export function formatDate(value: string | Date | null | undefined): string {
  if (!value) return '—';
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const d = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(d.getTime())) return String(value);
  const p = parts(d, false);
  return `${p.year}-${p.month}-${p.day}`;
}

/** Today's Shanghai date and its year and quarter, for default period choices. */
export function shanghaiToday(now = new Date()): { date: string; year: number; quarter: number } {
  const p = parts(now, false);
  const month = Number(p.month);
  return { date: `${p.year}-${p.month}-${p.day}`, year: Number(p.year), quarter: Math.floor((month - 1) / 3) + 1 };
}

/** Periods from the programme start (2022-Q2) to now, newest first: '2023', '2023-Q4', … */
export function periodChoices(kind: 'quarter' | 'year', now = new Date()): string[] {
  const { year, quarter } = shanghaiToday(now);
  const out: string[] = [];
  for (let y = year; y >= 2022; y--) {
    if (kind === 'year') {
      out.push(String(y));
      continue;
    }
    for (let q = y === year ? quarter : 4; q >= (y === 2022 ? 2 : 1); q--) out.push(`${y}-Q${q}`);
  }
  return out;
}
