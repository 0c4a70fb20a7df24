import { describe, expect, it } from 'vitest';
import { maskEmail } from './mask-email.ts';

describe('maskEmail', () => {
  it('keeps the first character of the local part and the domain, and hides the length', () => {
    expect(maskEmail('alice@example.com')).toBe('a…@example.com');
    expect(maskEmail('a@example.com')).toBe('a…@example.com');
    expect(maskEmail('bob.smith+chat@mail.example.org')).toBe('b…@mail.example.org');
  });

  it('does not split a character made of two UTF-16 units', () => {
    expect(maskEmail('😀x@example.com')).toBe('😀…@example.com');
  });

  it('shows nothing of something that is not an address', () => {
    expect(maskEmail('no-at-sign')).toBe('…');
    expect(maskEmail('@example.com')).toBe('…');
  });
});
