/**
 * Media identities as stored: the media_key of a card, e-card or QR account is its id; for an ID card
 * it is the keyed hash of the ID number (never the number). Kinds are checked against the media type.
 */
import { checkNationalId, kindsForMediaType, MEDIA_TYPES, NATIONAL_ID_MESSAGES, normaliseNationalId, type MediaType } from '@ridetally/domain';
import type { Keyring } from '@ridetally/keyring';

export const MEDIA_ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

export function isMediaType(value: string): value is MediaType {
  return (MEDIA_TYPES as readonly string[]).includes(value);
}

/** Why a medium's id/kind is unacceptable, or null. Messages never contain an ID number. */
export function checkMedium(type: MediaType, id: string, kind: string | null): string | null {
  if (type === 'id_card') {
    const problem = checkNationalId(id);
    if (problem) return NATIONAL_ID_MESSAGES[problem];
  } else if (!MEDIA_ID_RE.test(id)) {
    return 'media id must be 1-64 letters, digits or _ . : -';
  }
  const kinds = kindsForMediaType(type);
  if (kind !== null && kind !== '') {
    if (kinds.length === 0) return `${type} takes no kind`;
    if (!kinds.includes(kind)) return `kind of ${type} must be one of ${kinds.join(', ')}`;
  }
  return null;
}

/** The stored key of a medium (ID cards: keyed hash). */
export function mediaKeyOf(keyring: Keyring, type: MediaType, id: string): string {
  return type === 'id_card' ? keyring.hashIdNumber(normaliseNationalId(id)) : id;
}
