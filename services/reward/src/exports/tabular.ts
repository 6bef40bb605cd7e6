/**
 * Tabular exports: CSV as UTF-8 with a BOM (Excel then opens Chinese text cleanly), RFC 4180 quoting,
 * and cells that a spreadsheet would run as a formula (= + - @ at the start) prefixed with a quote;
 * XLSX through exceljs.
 */
import ExcelJS from 'exceljs';

export type Cell = string | number | boolean | null | undefined;

const BOM = '\uFEFF';

function csvCell(v: Cell): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(cells: readonly Cell[]): string {
  return cells.map(csvCell).join(',') + '\r\n';
}

export function toCsv(headers: readonly string[], rows: readonly (readonly Cell[])[], bom = true): string {
  return (bom ? BOM : '') + csvLine(headers) + rows.map(csvLine).join('');
}

export async function toXlsx(sheetName: string, headers: readonly string[], rows: readonly (readonly Cell[])[]): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'ridetally';
  const ws = wb.addWorksheet(sheetName.slice(0, 31));
  ws.addRow([...headers]).font = { bold: true };
  for (const r of rows) ws.addRow(r.map((c) => (c === undefined ? null : c)));
  ws.views = [{ state: 'frozen', ySplit: 1 }];
  ws.columns.forEach((c) => (c.width = 16));
  return Buffer.from(await wb.xlsx.writeBuffer());
}

export interface ExportFile {
  filename: string;
  contentType: string;
  body: Buffer | string;
}

export const CSV_TYPE = 'text/csv; charset=utf-8';
export const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

export async function tabularFile(format: 'csv' | 'xlsx', basename: string, sheet: string, headers: readonly string[], rows: readonly (readonly Cell[])[]): Promise<ExportFile> {
  return format === 'csv'
    ? { filename: `${basename}.csv`, contentType: CSV_TYPE, body: toCsv(headers, rows) }
    : { filename: `${basename}.xlsx`, contentType: XLSX_TYPE, body: await toXlsx(sheet, headers, rows) };
}
