import { describe, expect, it } from 'vitest';
import { createKeyring, generateMasterKey, KeyError, keyringFromEnv, parseMasterKey } from './index';

describe('keyring', () => {
  const key = generateMasterKey();

  it('round-trips PII and binds ciphertext to its purpose', () => {
    const kr = keyringFromEnv(key);
    const blob = kr.encrypt('pii', '110101199003074514');
    expect(blob.toString('utf8')).not.toContain('110101199003074514');
    expect(kr.decryptString('pii', blob)).toBe('110101199003074514');
    expect(() => kr.decrypt('device-secret', blob)).toThrow(KeyError);
  });

  it('hashes ID numbers case-insensitively and differently per master key', () => {
    const a = keyringFromEnv(key);
    const b = keyringFromEnv(generateMasterKey());
    expect(a.hashIdNumber('11010119900307451x')).toBe(a.hashIdNumber('11010119900307451X'));
    expect(a.hashIdNumber('11010119900307451X')).not.toBe(b.hashIdNumber('11010119900307451X'));
  });

  it('decrypts with the previous key during a rotation and reports what needs re-encryption', () => {
    const old = keyringFromEnv(key);
    const blob = old.encrypt('pii', 'name');
    const next = createKeyring({ current: parseMasterKey(generateMasterKey()), previous: parseMasterKey(key) });
    expect(next.decryptString('pii', blob)).toBe('name');
    expect(next.needsReencryption(blob)).toBe(true);
    expect(next.needsReencryption(next.encrypt('pii', 'name'))).toBe(false);
  });

  it('refuses malformed keys without echoing them', () => {
    expect(() => parseMasterKey('c2hvcnQ=')).toThrow(/32 random bytes/);
    try {
      parseMasterKey('not base64 !!');
    } catch (e) {
      expect((e as Error).message).not.toContain('not base64 !!');
    }
  });
});

describe('keyring during a master-key rotation', () => {
  it('names the key of a ciphertext and gives the hashes under both keys, current first', () => {
    const oldKey = generateMasterKey();
    const old = keyringFromEnv(oldKey);
    const next = keyringFromEnv(generateMasterKey(), oldKey);
    expect(next.previousKeyId).toBe(old.keyId);
    expect(old.previousKeyId).toBeNull();
    expect(next.keyIdOf(old.encrypt('pii', 'x'))).toBe(old.keyId);
    expect(next.keyIdOf(next.encrypt('pii', 'x'))).toBe(next.keyId);
    expect(next.keyIdOf(Buffer.from('short'))).toBeNull();
    const id = '11010119900307451X';
    expect(next.idHashCandidates(id.toLowerCase())).toEqual([next.hashIdNumber(id), old.hashIdNumber(id)]);
    expect(old.idHashCandidates(id)).toEqual([old.hashIdNumber(id)]);
    expect(next.tokenHashCandidates('rta_t')).toEqual([next.hashToken('rta_t'), old.hashToken('rta_t')]);
  });
});
