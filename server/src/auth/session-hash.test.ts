// Sessions stored before the hash moved to node:crypto must still validate: the digest is
// SHA-256 of the secret's UTF-8 bytes, as @oslojs/crypto computed it (FIPS 180-2 vectors).
import { sha256 } from '@oslojs/crypto/sha2';
import { describe, expect, it } from 'vitest';
import { hashSecret } from './session.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('hashSecret', () => {
  it('is SHA-256 of the UTF-8 bytes, byte for byte what the sessions stored before were hashed with', () => {
    expect(hex(hashSecret('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hex(hashSecret(''))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    for (const secret of ['abcdefghijklmnopqrstuvwx', 'café 🙂', 'x'.repeat(1000)]) {
      expect(hex(hashSecret(secret))).toBe(hex(sha256(new TextEncoder().encode(secret))));
    }
    expect(hashSecret('abc')).toBeInstanceOf(Uint8Array);
    expect(hashSecret('abc').byteLength).toBe(32);
  });
});
