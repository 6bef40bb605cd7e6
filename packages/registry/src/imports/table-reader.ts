/**
 * Reads an import file into rows of text cells with the line number a person sees: CSV (UTF-8, a
 * BOM is dropped; a quoted field may span lines, its row is numbered by the line it starts on) or
 * the first sheet of an XLSX (row numbers as Excel shows them). The header is line 1.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';

export interface TableRow {
  /** 1-based line (CSV) or row number (XLSX) of the row's start */
  line: number;
  cells: string[];
  /** XLSX only: indexes of cells that held numbers (an ID number typed as a number has lost digits) */
  numericCells?: Set<number>;
}

export interface Table {
  header: string[];
  headerLine: number;
  rows: TableRow[];
}

export type TableFormat = 'csv' | 'xlsx';

export class TableReadError extends Error {
  override name = 'TableReadError';
}

export function formatOfPath(path: string): TableFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.xlsx') return 'xlsx';
  if (ext === '.csv' || ext === '.txt') return 'csv';
  throw new TableReadError(`cannot tell the format of "${path}": name it .csv or .xlsx`);
}

export async function readTableFile(path: string, format: TableFormat = formatOfPath(path)): Promise<Table> {
  const content = await readFile(path);
  return format === 'xlsx' ? readXlsx(content) : readCsv(content);
}

export function readCsv(content: Buffer): Table {
  const text = content.toString('utf8');
  if (text.includes('\uFFFD')) throw new TableReadError('the file is not valid UTF-8 (save it as "CSV UTF-8")');
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(content, { bom: true, info: true, relax_column_count: true, skip_empty_lines: true }) as unknown as typeof records;
  } catch (err) {
    const e = err as { lines?: number; code?: string };
    throw new TableReadError(`line ${e.lines ?? '?'}: the CSV cannot be read (${e.code ?? 'parse error'})`);
  }
  const rows: TableRow[] = records.map(({ record, info }) => {
    // info.lines is the record's last line; a quoted field with line breaks started earlier.
    const breaks = record.reduce((n, cell) => n + (cell.match(/\r\n|\r|\n/g)?.length ?? 0), 0);
    return { line: info.lines - breaks, cells: record.map((c) => c.trim()) };
  });
  const head = rows.shift();
  if (!head) throw new TableReadError('the file is empty (a header line is required)');
  return { header: head.cells, headerLine: head.line, rows };
}

function cellText(value: ExcelJS.CellValue): { text: string; numeric: boolean } {
  if (value === null || value === undefined) return { text: '', numeric: false };
  if (typeof value === 'number') return { text: String(value), numeric: true };
  if (typeof value === 'string') return { text: value.trim(), numeric: false };
  if (typeof value === 'boolean') return { text: value ? 'true' : 'false', numeric: false };
  // Excel dates have no time zone: exceljs reads them as UTC midnight of the calendar date shown.
  if (value instanceof Date) return { text: value.toISOString().slice(0, 10), numeric: false };
  if ('richText' in value) return { text: value.richText.map((r) => r.text).join('').trim(), numeric: false };
  if ('result' in value) return cellText((value.result ?? null));
  if ('text' in value) return { text: String(value.text).trim(), numeric: false };
  if ('error' in value) return { text: '', numeric: false };
  return { text: '', numeric: false };
}

export async function readXlsx(content: Buffer): Promise<Table> {
  const workbook = new ExcelJS.Workbook();
  try {
    // exceljs's types predate Node's generic Buffer.
    await workbook.xlsx.load(content as unknown as ArrayBuffer);
  } catch {
    throw new TableReadError('the file is not a readable XLSX workbook');
  }
  const sheet = workbook.worksheets[0];
  if (!sheet) throw new TableReadError('the workbook has no sheet');
  let header: string[] | undefined;
  let headerLine = 0;
  const rows: TableRow[] = [];
  sheet.eachRow({ includeEmpty: false }, (row, rowNumber) => {
    const cells: string[] = [];
    const numericCells = new Set<number>();
    // row.values is 1-based (index 0 unused).
    const values = (row.values as ExcelJS.CellValue[]).slice(1);
    values.forEach((v, i) => {
      const { text, numeric } = cellText(v);
      cells[i] = text;
      if (numeric) numericCells.add(i);
    });
    for (let i = 0; i < cells.length; i++) cells[i] ??= '';
    if (cells.every((c) => c === '')) return;
    if (!header) {
      header = cells;
      headerLine = rowNumber;
      return;
    }
    rows.push({ line: rowNumber, cells, numericCells });
  });
  if (!header) throw new TableReadError('the first sheet is empty (a header row is required)');
  return { header, headerLine, rows };
}
