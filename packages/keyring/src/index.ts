/**
 * Keys derived from one master key (RIDETALLY_MASTER_KEY, 32 bytes base64) with HKDF-SHA256:
 * - `id-index`: HMAC key for the searchable hash of national ID numbers;
 * - `pii`: AES-256-GCM key for personal data (ID numbers, names, phones);
 * - `device-secret`: AES-256-GCM key for validator secrets;
 * - `pseudonym`: HMAC key for media pseudonyms in exports;
 * - `token`: HMAC key for API tokens and session ids.
 * Ciphertexts carry the 4-byte id of the master key that made them, so a rotation can decrypt with
 * the previous key while it re-encrypts (see docs/operations.md).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';

export type CipherPurpose = 'pii' | 'device-secret';
type Purpose = CipherPurpose | 'id-index' | 'pseudonym' | 'token';

const FORMAT_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_BYTES = 4;

export class KeyError extends Error {
  override name = 'KeyError';
}

interface MasterKey {
  id: Buffer;
  derive: (purpose: Purpose) => Buffer;
}

/** Parses a base64 master key; throws KeyError (never echoing the value) when it is not 32 bytes. */
export function parseMasterKey(encoded: string, variable = 'RIDETALLY_MASTER_KEY'): Buffer {
  const trimmed = encoded.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) throw new KeyError(`${variable} is not base64`);
  const key = Buffer.from(trimmed, 'base64');
  if (key.length !== 32) throw new KeyError(`${variable} must be 32 random bytes, base64-encoded (got ${key.length} bytes)`);
  return key;
}

/** A new random master key, base64. */
export function generateMasterKey(): string {
  return randomBytes(32).toString('base64');
}

function openMaster(key: Buffer): MasterKey {
  const cache = new Map<Purpose, Buffer>();
  return {
    id: createHash('sha256').update('ridetally-key-id').update(key).digest().subarray(0, KEY_ID_BYTES),
    derive(purpose) {
      let derived = cache.get(purpose);
      if (!derived) {
        derived = Buffer.from(hkdfSync('sha256', key, Buffer.from('ridetally'), Buffer.from(`ridetally/${purpose}/v1`), 32));
        cache.set(purpose, derived);
      }
      return derived;
    },
  };
}

export interface Keyring {
  /** Hex id of the current master key (not secret: a hash prefix). */
  readonly keyId: string;
  /** Searchable keyed hash of a national ID number (normalised to upper case). */
  hashIdNumber(idNumber: string): string;
  /** Keyed pseudonym of any identifier, for exports (stable per master key). */
  pseudonymise(kind: string, value: string): string;
  /** Keyed hash of an API token or session id, for storage. */
  hashToken(token: string): string;
  encrypt(purpose: CipherPurpose, plaintext: string | Buffer): Buffer;
  decrypt(purpose: CipherPurpose, blob: Buffer | Uint8Array): Buffer;
  decryptString(purpose: CipherPurpose, blob: Buffer | Uint8Array): string;
  /** True when a ciphertext was made with the previous key and should be re-encrypted. */
  needsReencryption(blob: Buffer | Uint8Array): boolean;
  /** Hex id of the previous master key (RIDETALLY_MASTER_KEY_PREVIOUS), or null when none is set. */
  readonly previousKeyId: string | null;
  /** Hex id of the master key a ciphertext names (not secret), or null when it is not a ciphertext. */
  keyIdOf(blob: Buffer | Uint8Array): string | null;
  /**
   * The searchable hashes an ID number may be stored under during a master-key rotation: the
   * current key's first, then the previous key's (when set). Look-ups use all; writes use the first.
   */
  idHashCandidates(idNumber: string): string[];
  /** Token hashes under the current, then the previous key (a token issued before a rotation). */
  tokenHashCandidates(token: string): string[];
}

export interface KeyringOptions {
  current: Buffer;
  previous?: Buffer | undefined;
}

export function createKeyring({ current, previous }: KeyringOptions): Keyring {
  const cur = openMaster(current);
  const prev = previous ? openMaster(previous) : undefined;
  const hmacWith = (master: MasterKey, purpose: Purpose, data: string) =>
    createHmac('sha256', master.derive(purpose)).update(data, 'utf8').digest('base64url');
  const hmac = (purpose: Purpose, data: string) => hmacWith(cur, purpose, data);
  const both = (purpose: Purpose, data: string) => (prev ? [hmacWith(cur, purpose, data), hmacWith(prev, purpose, data)] : [hmacWith(cur, purpose, data)]);

  function pick(id: Buffer): MasterKey {
    if (id.equals(cur.id)) return cur;
    if (prev && id.equals(prev.id)) return prev;
    throw new KeyError('ciphertext was made with an unknown master key');
  }

  return {
    keyId: cur.id.toString('hex'),
    hashIdNumber: (idNumber) => hmac('id-index', idNumber.trim().toUpperCase()),
    pseudonymise: (kind, value) => hmac('pseudonym', `${kind}:${value}`).slice(0, 22),
    hashToken: (token) => hmac('token', token),
    encrypt(purpose, plaintext) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', cur.derive(purpose), iv);
      cipher.setAAD(Buffer.from(purpose));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([Buffer.from([FORMAT_VERSION]), cur.id, iv, cipher.getAuthTag(), body]);
    },
    decrypt(purpose, blobIn) {
      const blob = Buffer.from(blobIn);
      if (blob.length < 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES || blob[0] !== FORMAT_VERSION) {
        throw new KeyError('not a ridetally ciphertext');
      }
      const master = pick(blob.subarray(1, 1 + KEY_ID_BYTES));
      let at = 1 + KEY_ID_BYTES;
      const iv = blob.subarray(at, (at += IV_BYTES));
      const tag = blob.subarray(at, (at += TAG_BYTES));
      const decipher = createDecipheriv('aes-256-gcm', master.derive(purpose), iv);
      decipher.setAAD(Buffer.from(purpose));
      decipher.setAuthTag(tag);
      try {
        return Buffer.concat([decipher.update(blob.subarray(at)), decipher.final()]);
      } catch {
        throw new KeyError('ciphertext failed authentication');
      }
    },
    decryptString(purpose, blob) {
      return this.decrypt(purpose, blob).toString('utf8');
    },
    needsReencryption(blobIn) {
      const blob = Buffer.from(blobIn);
      return !blob.subarray(1, 1 + KEY_ID_BYTES).equals(cur.id);
    },
    previousKeyId: prev ? prev.id.toString('hex') : null,
    keyIdOf(blobIn) {
      const blob = Buffer.from(blobIn);
      if (blob.length < 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES || blob[0] !== FORMAT_VERSION) return null;
      return blob.subarray(1, 1 + KEY_ID_BYTES).toString('hex');
    },
    idHashCandidates: (idNumber) => both('id-index', idNumber.trim().toUpperCase()),
    tokenHashCandidates: (token) => both('token', token),
  };
}

/** A keyring from the environment's variables (RIDETALLY_MASTER_KEY[_PREVIOUS]). */
export function keyringFromEnv(current: string, previous?: string): Keyring {
  return createKeyring({
    current: parseMasterKey(current),
    previous: previous ? parseMasterKey(previous, 'RIDETALLY_MASTER_KEY_PREVIOUS') : undefined,
  });
}
