/**
 * R10: the canonical content of a snapshot and its SHA-256. Canonical JSON: object keys sorted,
 * no whitespace, instants as ISO-8601 UTC strings, arrays in list order. Hashing is pure (no I/O).
 * Status, version and workflow dates are not content: a snapshot's hash only covers the list.
 */
import { createHash } from 'node:crypto';

export interface SnapshotContentRow {
  position: number;
  rank: number;
  personId: string;
  nameMasked: string;
  employerCode: string | null;
  rides: number;
  lastCountedAt: string | null;
  awardCny: number | null;
  tieNote: string | null;
}

export interface SnapshotContent {
  kind: 'quarterly' | 'annual';
  period: string;
  rulesVersion: string;
  rules: unknown;
  tiePolicy: string;
  dataCutoff: string;
  rows: SnapshotContentRow[];
  totals: unknown;
}

/** Deterministic JSON: sorted keys, Dates as ISO strings, undefined members dropped. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') {
    return JSON.stringify(value);
  }
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`cannot canonicalise a ${typeof value}`);
}

/** Normalises an instant to the canonical ISO form (UTC, milliseconds). */
export function canonicalInstant(v: string | Date | null): string | null {
  if (v === null) return null;
  return (v instanceof Date ? v : new Date(v)).toISOString();
}

export function snapshotContentSha256(content: SnapshotContent): string {
  const normalised = {
    ...content,
    dataCutoff: canonicalInstant(content.dataCutoff),
    rows: [...content.rows].sort((a, b) => a.position - b.position).map((r) => ({ ...r, lastCountedAt: canonicalInstant(r.lastCountedAt) })),
  };
  return createHash('sha256').update(canonicalJson(normalised), 'utf8').digest('hex');
}
