/** What the file imports share: exact columns, line-numbered problems, progress. */
import type { Table, TableRow } from './table-reader';

export interface ImportProblem {
  /** line as a person counts it in the file (header = 1) */
  line: number;
  message: string;
}

export interface ImportResult<C extends object> {
  rows: number;
  /** true when the file was valid and its changes (maybe none) were committed */
  applied: boolean;
  problems: ImportProblem[];
  changes: C;
}

/** Progress callback: phase name, done, total (for a progress bar). */
export type ImportProgress = (phase: string, done: number, total: number) => void;

export interface ImportOptions {
  onProgress?: ImportProgress | undefined;
}

export interface RowAccess {
  line: number;
  row: TableRow;
  get(column: string): string;
  /** true when an XLSX cell held a number */
  isNumeric(column: string): boolean;
}

/** Checks the header has exactly `columns` (any order); returns accessors or problems on line 1. */
export function bindColumns(
  table: Table,
  columns: readonly string[],
): { problems: ImportProblem[]; rows: RowAccess[] } {
  const header = table.header.map((h) => h.trim().toLowerCase());
  const problems: ImportProblem[] = [];
  const index = new Map<string, number>();
  header.forEach((h, i) => {
    if (h === '' && i === header.length - 1) return;
    if (!columns.includes(h)) problems.push({ line: table.headerLine, message: `unknown column "${h.slice(0, 40)}" (expected ${columns.join(',')})` });
    else if (index.has(h)) problems.push({ line: table.headerLine, message: `column "${h}" appears twice` });
    else index.set(h, i);
  });
  for (const c of columns) if (!index.has(c)) problems.push({ line: table.headerLine, message: `missing column "${c}"` });
  if (problems.length) return { problems, rows: [] };
  const rows = table.rows.map((row) => ({
    line: row.line,
    row,
    get: (column: string) => row.cells[index.get(column)!] ?? '',
    isNumeric: (column: string) => row.numericCells?.has(index.get(column)!) ?? false,
  }));
  for (const r of rows) {
    if (r.row.cells.length > header.length && r.row.cells.slice(header.length).some((c) => c !== '')) {
      problems.push({ line: r.line, message: `has ${r.row.cells.length} fields, the header has ${header.length}` });
    }
  }
  return { problems, rows };
}

export function sortProblems(problems: ImportProblem[]): ImportProblem[] {
  return problems.sort((a, b) => a.line - b.line);
}

/** Calls onProgress every `step` items and at the end. */
export function progressTicker(onProgress: ImportProgress | undefined, phase: string, total: number, step = 2000): (done: number) => void {
  if (!onProgress) return () => undefined;
  onProgress(phase, 0, total);
  return (done) => {
    if (done === total || done % step === 0) onProgress(phase, done, total);
  };
}

// eslint-disable-next-line no-control-regex -- control characters are what this rejects
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A required short text; problem message or null. */
export function checkText(value: string, what: string, max: number): string | null {
  if (value === '') return `${what} is empty`;
  if (value.length > max) return `${what} is longer than ${max} characters`;
  if (CONTROL.test(value)) return `${what} contains control characters`;
  return null;
}
