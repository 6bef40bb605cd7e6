/**
 * `import employers`: code,name,type,city_area. All-or-nothing; an employer whose type or city-area
 * flag changes gets an `employer` outbox entry (its employees are re-counted); a name change alone
 * does not alter counts. Rows equal to what is stored are not written.
 */
import { appendOutbox, findEmployers, upsertEmployers, type EmployerRow } from '@ridetally/db';
import { EMPLOYER_TYPES, type EmployerType } from '@ridetally/domain';
import type { RegistryDeps } from '../deps';
import { bindColumns, checkText, progressTicker, sortProblems, type ImportOptions, type ImportProblem, type ImportResult } from './import-common';
import type { Table } from './table-reader';

export const EMPLOYER_COLUMNS = ['code', 'name', 'type', 'city_area'] as const;

export interface EmployerImportChanges {
  created: number;
  updated: number;
  unchanged: number;
}

export function parseBooleanCell(value: string): boolean | null {
  const v = value.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  return null;
}

export async function importEmployers(
  deps: Pick<RegistryDeps, 'db' | 'now'>,
  table: Table,
  options: ImportOptions = {},
): Promise<ImportResult<EmployerImportChanges>> {
  const changes: EmployerImportChanges = { created: 0, updated: 0, unchanged: 0 };
  const bound = bindColumns(table, EMPLOYER_COLUMNS);
  const problems: ImportProblem[] = [...bound.problems];
  const parsed: EmployerRow[] = [];
  const seen = new Map<string, number>();
  const tick = progressTicker(options.onProgress, 'validating', bound.rows.length);
  bound.rows.forEach((r, i) => {
    const code = r.get('code');
    const name = r.get('name');
    const type = r.get('type').toLowerCase();
    const city = parseBooleanCell(r.get('city_area'));
    const rowProblems = [
      checkText(code, 'code', 64),
      checkText(name, 'name', 200),
      (EMPLOYER_TYPES as readonly string[]).includes(type) ? null : `type must be one of ${EMPLOYER_TYPES.join(', ')}`,
      city === null ? 'city_area must be true or false' : null,
      seen.has(code) ? `code ${code} is also on line ${seen.get(code)}` : null,
    ].filter((p): p is string => p !== null);
    if (code && !seen.has(code)) seen.set(code, r.line);
    for (const message of rowProblems) problems.push({ line: r.line, message });
    if (rowProblems.length === 0) parsed.push({ code, name, type: type as EmployerType, city_area: city! });
    tick(i + 1);
  });
  if (problems.length) return { rows: bound.rows.length, applied: false, problems: sortProblems(problems), changes };

  await deps.db.transaction().execute(async (trx) => {
    const existing = new Map((await findEmployers(trx, parsed.map((p) => p.code))).map((e) => [e.code, e]));
    const write: EmployerRow[] = [];
    const recount: string[] = [];
    for (const p of parsed) {
      const old = existing.get(p.code);
      if (!old) {
        changes.created++;
        write.push(p);
      } else if (old.name !== p.name || old.type !== p.type || old.city_area !== p.city_area) {
        changes.updated++;
        write.push(p);
        if (old.type !== p.type || old.city_area !== p.city_area) recount.push(p.code);
      } else {
        changes.unchanged++;
      }
    }
    await upsertEmployers(trx, write, deps.now());
    await appendOutbox(trx, recount.map((code) => ({ topic: 'employer' as const, payload: { code } })));
  });
  return { rows: bound.rows.length, applied: true, problems: [], changes };
}
