import { randomBytes } from 'node:crypto';

/** A new device secret: 32 random bytes as 64 hex characters. Devices use the string itself as the HMAC key. */
export function generateDeviceSecret(): string {
  return randomBytes(32).toString('hex');
}
