import { describe, expect, it } from 'vitest';
import { PASSWORD_MIN_LENGTH, ZRequestMagicLinkInput, ZSignInInput, ZSignUpInput } from '@chatmeter/shared/auth';
import { FORM_KEY, firstInvalidField, validateField, validateForm } from './form-validation.ts';
import './zod-config.ts';

describe('validateForm with the shared auth schemas', () => {
  it('returns the parsed (normalised) data when valid', () => {
    expect(validateForm(ZSignUpInput, { email: '  Ada@Example.COM ', password: 'correct horse battery' })).toEqual({
      ok: true,
      data: { email: 'ada@example.com', password: 'correct horse battery' },
    });
  });

  it('gives one message per field, the most basic first', () => {
    const result = validateForm(ZSignUpInput, { email: '', password: 'short' });
    expect(result).toEqual({
      ok: false,
      errors: { email: 'Enter your e-mail address', password: `Use at least ${PASSWORD_MIN_LENGTH} characters` },
    });
  });

  it('rejects a malformed address', () => {
    const result = validateForm(ZRequestMagicLinkInput, { email: 'ada@' });
    expect(result).toEqual({ ok: false, errors: { email: 'Enter a valid e-mail address' } });
  });

  it('does not apply the sign-up password policy to sign-in', () => {
    expect(validateForm(ZSignInInput, { email: 'ada@example.com', password: 'short' }).ok).toBe(true);
    expect(validateForm(ZSignInInput, { email: 'ada@example.com', password: '' })).toEqual({
      ok: false,
      errors: { password: 'Enter your password' },
    });
  });

  it('puts issues without a field under the form key', () => {
    const result = validateForm(ZSignInInput, 'not an object');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(Object.keys(result.errors)).toEqual([FORM_KEY]);
  });
});

describe('validateField', () => {
  it('reports only the asked field', () => {
    const values = { email: 'ada@example.com', password: 'short' };
    expect(validateField(ZSignUpInput, values, 'email')).toBeUndefined();
    expect(validateField(ZSignUpInput, values, 'password')).toMatch(/at least/);
  });
});

describe('firstInvalidField', () => {
  it('follows the order of the form, not of the errors', () => {
    expect(firstInvalidField(['email', 'password'], { password: 'x', email: 'y' })).toBe('email');
    expect(firstInvalidField(['email', 'password'], { password: 'x' })).toBe('password');
    expect(firstInvalidField(['email', 'password'], {})).toBeUndefined();
  });
});
