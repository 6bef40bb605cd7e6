/**
 * `import media`: id_number,media_type,media_kind,media_id,valid_from,valid_to (dates inclusive,
 * empty `valid_to` open-ended). A row is identified by its medium and valid_from: a stored binding of
 * the same medium, person and start is updated to the row's end and kind (how a lost card is ended
 * by a file); anything else is a new binding. A row whose interval overlaps another binding of the
 * medium (in the file or stored, any person) is refused with its line. The person must be registered
 * (roster import or app). All-or-nothing, idempotent; changed persons get `person` outbox entries.
 */
import {
  appendOutbox,
  deleteBindings,
  findBindingsOfMedia,
  findPersonsByIdHashes,
  insertBindings,
  lockPersonsIdHashes,
  lockRegistryImports,
  type BindingRow,
  type NewBinding,
  type OutboxEntry,
} from '@ridetally/db';
import { checkNationalId, NATIONAL_ID_MESSAGES, normaliseNationalId, type MediaType } from '@ridetally/domain';
import { endOfDateExclusive, formatShanghai, parseCalendarDate, startOfDate } from '../dates';
import type { RegistryDeps } from '../deps';
import { checkMedium, isMediaType, mediaKeyOf } from '../media';
import { bindColumns, progressTicker, sortProblems, type ImportOptions, type ImportProblem, type ImportResult } from './import-common';
import type { Table } from './table-reader';

export const MEDIA_COLUMNS = ['id_number', 'media_type', 'media_kind', 'media_id', 'valid_from', 'valid_to'] as const;

export interface MediaImportChanges {
  created: number;
  updated: number;
  unchanged: number;
}

interface MediaRow {
  line: number;
  /** the holder's ID hash under the current key (the row's identity in the file) */
  idHash: string;
  /** … and under each key a person may still be stored under (current first; two during a rotation) */
  idHashes: string[];
  type: MediaType;
  kind: string | null;
  /** the medium's key under the current key (an ID card: `idHash`); stored ID cards use their holder's id_hash */
  mediaKey: string;
  from: Date;
  to: Date | null;
}

const overlaps = (a: { from: Date; to: Date | null }, b: { from: Date; to: Date | null }) =>
  (a.to === null || b.from < a.to) && (b.to === null || a.from < b.to);

export async function importMedia(deps: RegistryDeps, table: Table, options: ImportOptions = {}): Promise<ImportResult<MediaImportChanges>> {
  const changes: MediaImportChanges = { created: 0, updated: 0, unchanged: 0 };
  const { keyring } = deps;
  const bound = bindColumns(table, MEDIA_COLUMNS);
  const problems: ImportProblem[] = [...bound.problems];
  const rows: MediaRow[] = [];
  const hashOf = new Map<string, string[]>();
  const tick = progressTicker(options.onProgress, 'validating', bound.rows.length);
  bound.rows.forEach((r, i) => {
    tick(i + 1);
    const rowProblems: string[] = [];
    let idHashes: string[] = [];
    if (r.isNumeric('id_number')) {
      rowProblems.push('id_number is stored as a number in the spreadsheet and has lost digits: format the column as text');
    } else {
      const problem = checkNationalId(r.get('id_number'));
      if (problem) rowProblems.push(NATIONAL_ID_MESSAGES[problem]);
      else {
        const idNumber = normaliseNationalId(r.get('id_number'));
        idHashes = hashOf.get(idNumber) ?? keyring.idHashCandidates(idNumber);
        hashOf.set(idNumber, idHashes);
      }
    }
    const type = r.get('media_type');
    const kind = r.get('media_kind') || null;
    const mediaId = r.get('media_id');
    const idHash = idHashes[0] ?? '';
    let mediaKey = '';
    if (!isMediaType(type)) rowProblems.push('media_type must be one of transit_card, ecard, qr, id_card');
    else if (type === 'id_card' && r.isNumeric('media_id')) rowProblems.push('media_id is stored as a number and has lost digits: format the column as text');
    else {
      const problem = checkMedium(type, mediaId, kind);
      if (problem) rowProblems.push(problem.startsWith('ID number') ? `media_id: ${problem}` : problem);
      else {
        mediaKey = mediaKeyOf(keyring, type, mediaId);
        if (type === 'id_card' && idHash && mediaKey !== idHash) rowProblems.push('an id_card can only be bound to its holder (media_id must equal id_number)');
      }
    }
    const fromDate = parseCalendarDate(r.get('valid_from'));
    if (!fromDate) rowProblems.push('valid_from must be a date yyyy-MM-dd');
    const toText = r.get('valid_to');
    const toDate = toText === '' ? null : parseCalendarDate(toText);
    if (toText !== '' && !toDate) rowProblems.push('valid_to must be a date yyyy-MM-dd or empty');
    if (fromDate && toDate && toDate < fromDate) rowProblems.push('valid_to is before valid_from');
    for (const message of rowProblems) problems.push({ line: r.line, message });
    if (rowProblems.length === 0) {
      rows.push({
        line: r.line,
        idHash,
        idHashes,
        type: type as MediaType,
        kind,
        mediaKey,
        from: startOfDate(fromDate!),
        to: toDate ? endOfDateExclusive(toDate) : null,
      });
    }
  });

  // Rows of one medium in the file must not overlap each other.
  const byMedium = new Map<string, MediaRow[]>();
  for (const r of rows) {
    const k = `${r.type}\u0000${r.mediaKey}`;
    const list = byMedium.get(k);
    if (list) list.push(r);
    else byMedium.set(k, [r]);
  }
  for (const list of byMedium.values()) {
    list.sort((a, b) => a.from.getTime() - b.from.getTime());
    for (let i = 1; i < list.length; i++) {
      if (overlaps(list[i - 1]!, list[i]!)) {
        problems.push({ line: list[i]!.line, message: `this medium's interval overlaps the one on line ${list[i - 1]!.line}: a medium belongs to one person at a time` });
      }
    }
  }
  // During a master-key rotation a holder not re-keyed yet is found under the previous key's hash.
  const personOfHash = new Map((await findPersonsByIdHashes(deps.db, [...new Set(rows.flatMap((r) => r.idHashes))])).map((p) => [p.id_hash, p.person_id]));
  const persons = new Map<string, string>();
  for (const r of rows) {
    const personId = r.idHashes.map((h) => personOfHash.get(h)).find((p) => p !== undefined);
    if (personId) persons.set(r.idHash, personId);
  }
  for (const r of rows) {
    if (!persons.has(r.idHash)) problems.push({ line: r.line, message: 'no person is registered with this id_number (import employees or register in the app first)' });
  }
  if (problems.length) return { rows: bound.rows.length, applied: false, problems: sortProblems(problems), changes };

  const applyProblems: ImportProblem[] = [];
  await deps.db.transaction().execute(async (trx) => {
    await lockRegistryImports(trx);
    // An ID card is stored under its holder's id_hash as it is now, locked until commit, so that
    // keys rotate (which re-keys a person with the bindings under its hash) moves it with them.
    const holderHash = await lockPersonsIdHashes(trx, [...new Set(rows.filter((r) => r.type === 'id_card').map((r) => persons.get(r.idHash)!))]);
    const keyOf = (r: MediaRow) => (r.type === 'id_card' ? holderHash.get(persons.get(r.idHash)!)! : r.mediaKey);
    const stored = await findBindingsOfMedia(trx, rows.map((r) => ({ media_type: r.type, media_key: keyOf(r) })));
    const storedByMedium = new Map<string, BindingRow[]>();
    for (const b of stored) {
      const k = `${b.media_type}\u0000${b.media_key}`;
      const list = storedByMedium.get(k);
      if (list) list.push(b);
      else storedByMedium.set(k, [b]);
    }
    const inserts: NewBinding[] = [];
    const replaced: number[] = [];
    const outbox = new Map<string, Date>();
    const touch = (personId: string, from: Date) => {
      const prev = outbox.get(personId);
      if (!prev || from < prev) outbox.set(personId, from);
    };
    for (const r of rows) {
      const personId = persons.get(r.idHash)!;
      const existing = storedByMedium.get(`${r.type}\u0000${keyOf(r)}`) ?? [];
      const same = existing.find((b) => b.person_id === personId && b.valid_from.getTime() === r.from.getTime());
      if (same && (same.valid_to?.getTime() ?? null) === (r.to?.getTime() ?? null) && same.media_kind === r.kind) {
        changes.unchanged++;
        continue;
      }
      const clash = existing.find((b) => b !== same && overlaps({ from: b.valid_from, to: b.valid_to }, r));
      if (clash) {
        applyProblems.push({
          line: r.line,
          message: `overlaps a stored binding of this medium (${clash.person_id === personId ? 'this person' : 'another person'}, ${formatShanghai(clash.valid_from)} to ${formatShanghai(clash.valid_to)}): a medium belongs to one person at a time`,
        });
        continue;
      }
      if (same) {
        changes.updated++;
        replaced.push(same.id);
        const ends = [same.valid_to, r.to].filter((d): d is Date => d !== null);
        touch(personId, ends.length ? new Date(Math.min(...ends.map((d) => d.getTime()))) : r.from);
      } else {
        changes.created++;
        touch(personId, r.from);
      }
      inserts.push({ person_id: personId, media_type: r.type, media_kind: r.kind, media_key: keyOf(r), valid_from: r.from, valid_to: r.to });
    }
    if (applyProblems.length) throw new ImportAbort();
    await deleteBindings(trx, replaced);
    await insertBindings(trx, inserts);
    const entries: OutboxEntry[] = [...outbox].map(([personId, from]) => ({ topic: 'person', payload: { personId, from: from.toISOString() } }));
    await appendOutbox(trx, entries);
  }).catch((err: unknown) => {
    if (!(err instanceof ImportAbort)) throw err;
  });
  if (applyProblems.length) {
    return { rows: bound.rows.length, applied: false, problems: sortProblems(applyProblems), changes: { created: 0, updated: 0, unchanged: 0 } };
  }
  return { rows: bound.rows.length, applied: true, problems: [], changes };
}

/** Rolls the import transaction back after problems found under the lock. */
class ImportAbort extends Error {}
