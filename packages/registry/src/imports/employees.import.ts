/**
 * `import employees`: id_number,name,employer_code,in_service_from,in_service_to (dates inclusive,
 * empty `to` open-ended). The file is authoritative for every person it lists: that person's
 * in-service intervals become exactly the file's rows (several rows = left and returned, or changed
 * employer). Persons not in the file are untouched. All-or-nothing, idempotent (compared before
 * writing), and built for 100,000 rows: one keyed hash per distinct ID number, bulk statements
 * (unnest), one transaction. A person whose intervals change gets a `person` outbox entry from the
 * earliest date that changed.
 */
import {
  appendOutbox,
  deleteEmployments,
  findEmployers,
  findEmploymentsOfPersons,
  findPersonsByIdHashes,
  insertEmployments,
  insertPersonsIfAbsent,
  lockRegistryImports,
  updatePersonNames,
  type NewEmployment,
  type PersonRow,
  type OutboxEntry,
} from '@ridetally/db';
import { checkNationalId, maskName, NATIONAL_ID_MESSAGES, normaliseNationalId } from '@ridetally/domain';
import { parseCalendarDate, startOfDate } from '../dates';
import type { RegistryDeps } from '../deps';
import { normaliseName } from '../person.service';
import { bindColumns, checkText, progressTicker, sortProblems, type ImportOptions, type ImportProblem, type ImportResult } from './import-common';
import type { Table } from './table-reader';

export const EMPLOYEE_COLUMNS = ['id_number', 'name', 'employer_code', 'in_service_from', 'in_service_to'] as const;

export interface EmployeeImportChanges {
  personsCreated: number;
  personsRenamed: number;
  personsWithNewIntervals: number;
  employmentsInserted: number;
  employmentsDeleted: number;
}

interface Interval {
  line: number;
  employerCode: string;
  from: string;
  to: string | null;
}

interface PersonEntry {
  /** under the current key (what a new person is written with) */
  idHash: string;
  /** under each key the person may be stored with: current first, then the previous during a rotation */
  idHashes: string[];
  idNumber: string;
  name: string;
  nameLine: number;
  intervals: Interval[];
}

/** A file's rows for one person must not overlap each other; problems name both lines. */
function overlapProblems(intervals: Interval[]): ImportProblem[] {
  const sorted = [...intervals].sort((a, b) => a.from.localeCompare(b.from));
  const problems: ImportProblem[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (prev.to === null || prev.to >= cur.from) {
      problems.push({ line: cur.line, message: `in-service interval overlaps the one on line ${prev.line} for the same ID number` });
    }
  }
  return problems;
}

const key = (e: { employerCode: string; from: string; to: string | null }) => `${e.employerCode}\u0000${e.from}\u0000${e.to ?? ''}`;

export async function importEmployees(
  deps: RegistryDeps,
  table: Table,
  options: ImportOptions = {},
): Promise<ImportResult<EmployeeImportChanges>> {
  const changes: EmployeeImportChanges = {
    personsCreated: 0,
    personsRenamed: 0,
    personsWithNewIntervals: 0,
    employmentsInserted: 0,
    employmentsDeleted: 0,
  };
  const { keyring } = deps;
  const bound = bindColumns(table, EMPLOYEE_COLUMNS);
  const problems: ImportProblem[] = [...bound.problems];
  const persons = new Map<string, PersonEntry>();
  const hashOf = new Map<string, string[]>();
  const employerLines = new Map<string, number[]>();
  const tick = progressTicker(options.onProgress, 'validating', bound.rows.length);

  bound.rows.forEach((r, i) => {
    tick(i + 1);
    const rowProblems: string[] = [];
    const rawId = r.get('id_number');
    let idNumber = '';
    if (r.isNumeric('id_number')) {
      rowProblems.push('id_number is stored as a number in the spreadsheet and has lost digits: format the column as text');
    } else {
      const problem = checkNationalId(rawId);
      if (problem) rowProblems.push(NATIONAL_ID_MESSAGES[problem]);
      else idNumber = normaliseNationalId(rawId);
    }
    const name = normaliseName(r.get('name'));
    const nameProblem = checkText(name, 'name', 100);
    if (nameProblem) rowProblems.push(nameProblem);
    const employerCode = r.get('employer_code');
    const codeProblem = checkText(employerCode, 'employer_code', 64);
    if (codeProblem) rowProblems.push(codeProblem);
    const from = parseCalendarDate(r.get('in_service_from'));
    if (!from) rowProblems.push('in_service_from must be a date yyyy-MM-dd');
    const toText = r.get('in_service_to');
    const to = toText === '' ? null : parseCalendarDate(toText);
    if (toText !== '' && !to) rowProblems.push('in_service_to must be a date yyyy-MM-dd or empty');
    if (from && to && to < from) rowProblems.push('in_service_to is before in_service_from');
    for (const message of rowProblems) problems.push({ line: r.line, message });
    if (rowProblems.length) return;

    let idHashes = hashOf.get(idNumber);
    if (!idHashes) {
      idHashes = keyring.idHashCandidates(idNumber);
      hashOf.set(idNumber, idHashes);
    }
    const idHash = idHashes[0]!;
    const lines = employerLines.get(employerCode);
    if (lines) lines.push(r.line);
    else employerLines.set(employerCode, [r.line]);
    const interval: Interval = { line: r.line, employerCode, from: from!, to };
    const entry = persons.get(idHash);
    if (!entry) {
      persons.set(idHash, { idHash, idHashes, idNumber, name, nameLine: r.line, intervals: [interval] });
      return;
    }
    if (entry.name !== name) problems.push({ line: r.line, message: `name differs from line ${entry.nameLine} for the same ID number` });
    entry.intervals.push(interval);
  });
  for (const p of persons.values()) if (p.intervals.length > 1) problems.push(...overlapProblems(p.intervals));

  const known = new Set((await findEmployers(deps.db, [...employerLines.keys()])).map((e) => e.code));
  for (const [code, lines] of employerLines) {
    if (!known.has(code)) for (const line of lines) problems.push({ line, message: `unknown employer_code "${code.slice(0, 64)}" (import employers first)` });
  }
  if (problems.length) return { rows: bound.rows.length, applied: false, problems: sortProblems(problems), changes };

  const now = deps.now();
  await deps.db.transaction().execute(async (trx) => {
    await lockRegistryImports(trx);
    const entries = [...persons.values()];
    // Keyed by the entry's current-key hash; during a master-key rotation a person not re-keyed yet
    // is found under the previous key's (and stays there: keys rotate re-keys it).
    const existing = new Map<string, PersonRow>();
    const findExisting = async (list: PersonEntry[]) => {
      const byHash = new Map((await findPersonsByIdHashes(trx, list.flatMap((e) => e.idHashes))).map((p) => [p.id_hash, p]));
      for (const e of list) {
        const found = e.idHashes.map((h) => byHash.get(h)).find((p) => p !== undefined);
        if (found) existing.set(e.idHash, found);
      }
    };
    await findExisting(entries);
    const renames: { person_id: string; name_ciphertext: Buffer; name_masked: string }[] = [];
    const fresh = entries.filter((e) => !existing.has(e.idHash));
    const tickCompare = progressTicker(options.onProgress, 'comparing', entries.length);
    entries.forEach((e, i) => {
      tickCompare(i + 1);
      const old = existing.get(e.idHash);
      if (old && keyring.decryptString('pii', old.name_ciphertext) !== e.name) {
        renames.push({ person_id: old.person_id, name_ciphertext: keyring.encrypt('pii', e.name), name_masked: maskName(e.name) });
      }
    });
    const created = await insertPersonsIfAbsent(
      trx,
      fresh.map((e) => ({
        id_hash: e.idHash,
        id_ciphertext: keyring.encrypt('pii', e.idNumber),
        name_ciphertext: keyring.encrypt('pii', e.name),
        name_masked: maskName(e.name),
        phone_ciphertext: null,
      })),
    );
    // A person registered through the app meanwhile (not covered by the import lock) is found again.
    const raced = fresh.filter((e) => !created.has(e.idHash));
    await findExisting(raced);
    await updatePersonNames(trx, renames, now);
    changes.personsCreated = created.size;
    changes.personsRenamed = renames.length;

    const personIdOf = (e: PersonEntry) => existing.get(e.idHash)?.person_id ?? created.get(e.idHash)!;
    const current = await findEmploymentsOfPersons(trx, [...existing.values()].map((p) => p.person_id));
    const currentByPerson = new Map<string, typeof current>();
    for (const c of current) {
      const list = currentByPerson.get(c.person_id);
      if (list) list.push(c);
      else currentByPerson.set(c.person_id, [c]);
    }
    const inserts: NewEmployment[] = [];
    const deletes: number[] = [];
    const outbox: OutboxEntry[] = [];
    for (const e of entries) {
      const personId = personIdOf(e);
      const have = currentByPerson.get(personId) ?? [];
      const want = new Set(e.intervals.map(key));
      const haveKeys = new Set(have.map((h) => key({ employerCode: h.employer_code, from: h.from, to: h.to })));
      const removed = have.filter((h) => !want.has(key({ employerCode: h.employer_code, from: h.from, to: h.to })));
      const added = e.intervals.filter((i) => !haveKeys.has(key(i)));
      if (removed.length === 0 && added.length === 0) continue;
      changes.personsWithNewIntervals++;
      deletes.push(...removed.map((r) => r.id));
      inserts.push(...added.map((a) => ({ person_id: personId, employer_code: a.employerCode, from: a.from, to: a.to })));
      // A person new to the registry has no bindings yet, so nothing of theirs can be counted.
      if (existing.has(e.idHash)) {
        const earliest = [...removed.map((r) => r.from), ...added.map((a) => a.from)].sort()[0]!;
        outbox.push({ topic: 'person', payload: { personId, from: startOfDate(earliest).toISOString() } });
      }
    }
    await deleteEmployments(trx, deletes);
    await insertEmployments(trx, inserts);
    await appendOutbox(trx, outbox);
    changes.employmentsDeleted = deletes.length;
    changes.employmentsInserted = inserts.length;
  });
  return { rows: bound.rows.length, applied: true, problems: [], changes };
}
