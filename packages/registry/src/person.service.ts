/**
 * Real-name persons. A person is identified by their national ID number (GB 11643), kept only as a
 * keyed hash (lookup) and a ciphertext; the name and phone are encrypted, and a masked name is kept
 * for display. Registration is idempotent on the ID number. Re-registration with another name or
 * phone replaces them (the latest real-name data from the app wins; an omitted phone keeps the stored
 * one) and bumps updated_at; an identical re-registration writes nothing. During a master-key rotation
 * a person is looked up under both keys' hashes and new persons are written under the new key.
 */
import {
  findPersonById,
  findPersonByIdHashes,
  insertPersonIfAbsent,
  updatePersonContact,
  type PersonRow,
} from '@ridetally/db';
import { checkNationalId, maskName, NATIONAL_ID_MESSAGES, normaliseNationalId } from '@ridetally/domain';
import { AppError } from '@ridetally/http';
import type { Keyring } from '@ridetally/keyring';
import type { RegistryDeps } from './deps';

export interface RegisterPersonInput {
  idNumber: string;
  name: string;
  phone?: string | undefined;
}

export interface RegisterPersonResult {
  personId: string;
  created: boolean;
  /** Which of name/phone changed on a re-registration (never their values). */
  updated: ('name' | 'phone')[];
}

/** Validates an ID number; a bad one is a 400 whose message never contains the number. */
export function requireValidIdNumber(idNumber: string): string {
  const problem = checkNationalId(idNumber);
  if (problem) throw new AppError('validation_failed', NATIONAL_ID_MESSAGES[problem], [{ path: 'idNumber', message: NATIONAL_ID_MESSAGES[problem] }]);
  return normaliseNationalId(idNumber);
}

export function normaliseName(name: string): string {
  return name.normalize('NFC').trim();
}

export function normalisePhone(phone: string): string {
  return phone.replace(/[\s-]/g, '');
}

function decryptOrNull(keyring: Keyring, blob: Buffer | null): string | null {
  return blob ? keyring.decryptString('pii', blob) : null;
}

export async function registerPerson(deps: RegistryDeps, input: RegisterPersonInput): Promise<RegisterPersonResult> {
  const idNumber = requireValidIdNumber(input.idNumber);
  const name = normaliseName(input.name);
  const phone = input.phone === undefined ? undefined : normalisePhone(input.phone);
  const { keyring } = deps;
  // New key's hash first; during a master-key rotation also the previous key's, so a person not
  // re-keyed yet is found rather than registered twice (keys rotate re-keys them later).
  const idHashes = keyring.idHashCandidates(idNumber);
  return deps.db.transaction().execute(async (trx) => {
    let existing = idHashes.length > 1 ? await findPersonByIdHashes(trx, idHashes) : undefined;
    if (!existing) {
      const newId = await insertPersonIfAbsent(trx, {
        id_hash: idHashes[0]!,
        id_ciphertext: keyring.encrypt('pii', idNumber),
        name_ciphertext: keyring.encrypt('pii', name),
        name_masked: maskName(name),
        phone_ciphertext: phone ? keyring.encrypt('pii', phone) : null,
      });
      if (newId) return { personId: newId, created: true, updated: [] };
      existing = (await findPersonByIdHashes(trx, idHashes))!;
    }
    const updated: RegisterPersonResult['updated'] = [];
    const change: Parameters<typeof updatePersonContact>[2] = {};
    if (decryptOrNull(keyring, existing.name_ciphertext) !== name) {
      change.name_ciphertext = keyring.encrypt('pii', name);
      change.name_masked = maskName(name);
      updated.push('name');
    }
    if (phone !== undefined && decryptOrNull(keyring, existing.phone_ciphertext) !== phone) {
      change.phone_ciphertext = phone ? keyring.encrypt('pii', phone) : null;
      updated.push('phone');
    }
    if (updated.length) await updatePersonContact(trx, existing.person_id, change, deps.now());
    return { personId: existing.person_id, created: false, updated };
  });
}

/** The person, or a 404. */
export async function requirePerson(deps: Pick<RegistryDeps, 'db'>, personId: string): Promise<PersonRow> {
  const person = await findPersonById(deps.db, personId);
  if (!person) throw new AppError('not_found', 'no such person');
  return person;
}
