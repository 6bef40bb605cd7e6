/**
 * Resident identity card numbers (居民身份证号码), GB 11643-1999: 17 digits and a check character
 * (0-9 or X) computed with ISO 7064 MOD 11-2.
 */
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const CHECK_CHARS = '10X98765432';

export type NationalIdProblem = 'length' | 'characters' | 'birth_date' | 'checksum';

/** The check character for the first 17 digits. */
export function nationalIdCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * WEIGHTS[i]!;
  return CHECK_CHARS[sum % 11]!;
}

/** Upper-cases and trims; does not validate. */
export function normaliseNationalId(raw: string): string {
  return raw.trim().toUpperCase();
}

/** Why an ID number is invalid, or null when it is valid. Never include the number in a message. */
export function checkNationalId(raw: string): NationalIdProblem | null {
  const id = normaliseNationalId(raw);
  if (id.length !== 18) return 'length';
  if (!/^\d{17}[\dX]$/.test(id)) return 'characters';
  const y = Number(id.slice(6, 10));
  const m = Number(id.slice(10, 12));
  const d = Number(id.slice(12, 14));
  const date = new Date(Date.UTC(y, m - 1, d));
  if (y < 1900 || date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) {
    return 'birth_date';
  }
  if (nationalIdCheckChar(id) !== id[17]) return 'checksum';
  return null;
}

export function isValidNationalId(raw: string): boolean {
  return checkNationalId(raw) === null;
}

export const NATIONAL_ID_MESSAGES: Record<NationalIdProblem, string> = {
  length: 'ID number must have 18 characters',
  characters: 'ID number must be 17 digits followed by a digit or X',
  birth_date: 'ID number contains an impossible birth date',
  checksum: 'ID number check character does not match (GB 11643)',
};
