/**
 * Binding and unbinding media (R1). One medium belongs to at most one person at a time: the database
 * exclusion constraint decides and an overlap is a 409. Unbinding ends the binding at an instant (a
 * lost card from a date, or now); taps before that stay the person's, so a replaced card's old taps
 * stay with the old binding's interval. An ID card can only be bound to its holder, and is named
 * `self` in URLs so that ID numbers never appear in paths or access logs.
 */
import {
  appendOutbox,
  BindingOverlapError,
  endBinding,
  findBindingsOfMedium,
  findBindingToEnd,
  insertBinding,
  lockPersonIdHash,
  type BindingRow,
  type DB,
  type Transaction,
} from '@ridetally/db';
import { normaliseNationalId, type MediaType } from '@ridetally/domain';
import { AppError } from '@ridetally/http';
import { formatShanghai, parseEnd, parseStart } from './dates';
import type { RegistryDeps } from './deps';
import { checkMedium } from './media';
import { requirePerson } from './person.service';

export interface BindMediumInput {
  personId: string;
  type: MediaType;
  /** card / e-card / QR account id; for id_card the ID number or `self` */
  id: string;
  kind?: string | undefined;
  /** date (start of that Shanghai day) or instant; default now */
  validFrom?: string | undefined;
  /** date (inclusive) or instant (exclusive); default open-ended */
  validTo?: string | undefined;
}

export interface BindingView {
  bindingId: number;
  type: MediaType;
  kind: string | null;
  validFrom: string;
  validTo: string | null;
}

export function toBindingView(b: BindingRow): BindingView {
  return {
    bindingId: b.id,
    type: b.media_type,
    kind: b.media_kind,
    validFrom: b.valid_from.toISOString(),
    validTo: b.valid_to ? b.valid_to.toISOString() : null,
  };
}

function invalid(path: string, message: string): AppError {
  return new AppError('validation_failed', message, [{ path, message }]);
}

/**
 * The media_key of the medium named in a request, checking id_card belongs to the person. An ID
 * card's key is its holder's id_hash, which a master-key rotation changes: it is read again, locked,
 * in the writing transaction (`holderKey`), so HOLDER stands for it here.
 */
const HOLDER = Symbol('holder id_hash');
function resolveKey(deps: RegistryDeps, person: { id_hash: string }, type: MediaType, id: string, kind: string | null): string | typeof HOLDER {
  if (type === 'id_card') {
    if (id === 'self') return HOLDER;
    const problem = checkMedium(type, id, kind);
    if (problem) throw invalid('id', problem);
    // During a rotation the holder may still be under the previous key: any of the number's hashes.
    if (!deps.keyring.idHashCandidates(normaliseNationalId(id)).includes(person.id_hash)) {
      throw new AppError('unprocessable', 'an ID card can only be bound to its holder');
    }
    return HOLDER;
  }
  const problem = checkMedium(type, id, kind);
  if (problem) throw invalid(problem.startsWith('kind') || problem.includes('takes no kind') ? 'kind' : 'id', problem);
  return id;
}

/**
 * The stored key of the resolved medium, in the writing transaction. An ID card is bound under its
 * holder's id_hash as it is now, locked until commit: `keys rotate` re-keys a person together with
 * the bindings under its old hash, so a binding written under a hash the person just left would be
 * stranded under the old key.
 */
async function holderKey(trx: Transaction<DB>, personId: string, key: string | typeof HOLDER): Promise<string> {
  if (key !== HOLDER) return key;
  const idHash = await lockPersonIdHash(trx, personId);
  if (idHash === undefined) throw new AppError('not_found', 'no such person');
  return idHash;
}

export async function bindMedium(deps: RegistryDeps, input: BindMediumInput): Promise<BindingView> {
  const person = await requirePerson(deps, input.personId);
  const kind = input.kind ?? null;
  const resolved = resolveKey(deps, person, input.type, input.id, kind);
  let mediaKey = resolved === HOLDER ? person.id_hash : resolved;
  const now = deps.now();
  const validFrom = input.validFrom === undefined ? now : parseStart(input.validFrom);
  if (!validFrom) throw invalid('validFrom', 'validFrom must be a date (yyyy-MM-dd) or an ISO date-time with offset');
  const validTo = input.validTo === undefined ? null : parseEnd(input.validTo);
  if (input.validTo !== undefined && !validTo) {
    throw invalid('validTo', 'validTo must be a date (yyyy-MM-dd) or an ISO date-time with offset');
  }
  if (validTo && validTo <= validFrom) throw invalid('validTo', 'validTo must be after validFrom');
  try {
    return await deps.db.transaction().execute(async (trx) => {
      mediaKey = await holderKey(trx, person.person_id, resolved);
      const row = await insertBinding(trx, {
        person_id: person.person_id,
        media_type: input.type,
        media_kind: kind,
        media_key: mediaKey,
        valid_from: validFrom,
        valid_to: validTo,
      });
      await appendOutbox(trx, { topic: 'person', payload: { personId: person.person_id, from: validFrom.toISOString() } });
      return toBindingView(row);
    });
  } catch (err) {
    // Described after the rollback: the embedded database has a single connection.
    if (err instanceof BindingOverlapError) throw await overlapError(deps, input.type, mediaKey, person.person_id, validFrom, validTo);
    throw err;
  }
}

/** A 409 saying which interval is taken and whether by this person, never by whom otherwise. */
async function overlapError(
  deps: RegistryDeps,
  type: MediaType,
  mediaKey: string,
  personId: string,
  from: Date,
  to: Date | null,
): Promise<AppError> {
  const clash = (await findBindingsOfMedium(deps.db, type, mediaKey, from, to))[0];
  const whose = clash?.person_id === personId ? 'this person' : 'another person';
  const span = clash ? ` (bound to ${whose} from ${formatShanghai(clash.valid_from)} to ${formatShanghai(clash.valid_to)}, Asia/Shanghai)` : '';
  return new AppError('conflict', `this ${type} is already bound over part of that interval${span}; a medium belongs to one person at a time`, {
    reason: 'binding_overlap',
    ...(clash ? { validFrom: clash.valid_from.toISOString(), validTo: clash.valid_to?.toISOString() ?? null, samePerson: clash.person_id === personId } : {}),
  });
}

export interface UnbindMediumInput {
  personId: string;
  type: MediaType;
  id: string;
  /** date (valid through that day) or instant (exclusive); default now */
  validTo?: string | undefined;
}

/** Ends the person's binding of a medium at validTo (default now). */
export async function unbindMedium(deps: RegistryDeps, input: UnbindMediumInput): Promise<BindingView> {
  const person = await requirePerson(deps, input.personId);
  if (input.type === 'id_card' && input.id !== 'self') {
    throw invalid('id', 'name an ID card as "self" in the path: ID numbers never go into URLs');
  }
  const resolved = resolveKey(deps, person, input.type, input.id, null);
  const now = deps.now();
  const end = input.validTo === undefined ? now : parseEnd(input.validTo);
  if (!end) throw invalid('validTo', 'validTo must be a date (yyyy-MM-dd) or an ISO date-time with offset');
  return deps.db.transaction().execute(async (trx) => {
    const mediaKey = await holderKey(trx, person.person_id, resolved);
    const binding = await findBindingToEnd(trx, person.person_id, input.type, mediaKey, end);
    if (!binding) throw new AppError('not_found', `this ${input.type} is not bound to this person at ${formatShanghai(end)} (Asia/Shanghai)`);
    await endBinding(trx, binding.id, end, now);
    await appendOutbox(trx, { topic: 'person', payload: { personId: person.person_id, from: end.toISOString() } });
    return toBindingView({ ...binding, valid_to: end });
  });
}
