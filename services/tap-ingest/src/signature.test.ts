import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isWithinWindow, parseTimestamp, signTapRequest, verifySignature } from './signature';

describe('validator signatures', () => {
  const secret = 'a'.repeat(64);
  const body = Buffer.from('{"taps":[]}');
  it('is hex HMAC-SHA256 of `${timestamp}.${raw body}` keyed by the secret string', () => {
    const expected = createHmac('sha256', secret).update('1700000000.{"taps":[]}').digest('hex');
    expect(signTapRequest(secret, '1700000000', body)).toBe(expected);
    expect(verifySignature([Buffer.from(secret)], '1700000000', body, expected)).toBe(true);
    expect(verifySignature([Buffer.from(secret)], '1700000000', body, expected.toUpperCase())).toBe(true);
  });
  it('accepts any of the usable secrets and refuses malformed or wrong signatures', () => {
    const sig = signTapRequest(secret, '1', body);
    expect(verifySignature([Buffer.from('b'.repeat(64)), Buffer.from(secret)], '1', body, sig)).toBe(true);
    expect(verifySignature([Buffer.from('b'.repeat(64))], '1', body, sig)).toBe(false);
    expect(verifySignature([Buffer.from(secret)], '2', body, sig)).toBe(false);
    expect(verifySignature([Buffer.from(secret)], '1', Buffer.from('{"taps":[1]}'), sig)).toBe(false);
    expect(verifySignature([Buffer.from(secret)], '1', body, sig.slice(2))).toBe(false);
    expect(verifySignature([Buffer.from(secret)], '1', body, undefined)).toBe(false);
    expect(verifySignature([], '1', body, sig)).toBe(false);
  });
  it('parses timestamps and checks the window', () => {
    expect(parseTimestamp('1700000000')).toBe(1700000000);
    expect(parseTimestamp('1.5')).toBeUndefined();
    expect(parseTimestamp('-1')).toBeUndefined();
    expect(parseTimestamp(undefined)).toBeUndefined();
    expect(isWithinWindow(1000, 1300_000, 300)).toBe(true);
    expect(isWithinWindow(1000, 1301_000, 300)).toBe(false);
    expect(isWithinWindow(1301, 1000_000, 300)).toBe(false);
  });
});
