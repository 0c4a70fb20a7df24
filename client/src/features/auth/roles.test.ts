import { describe, expect, it } from 'vitest';
import { canSeeAdmin, displayName } from './roles.ts';

describe('canSeeAdmin', () => {
  it('is for admin and support only', () => {
    expect(canSeeAdmin({ role: 'admin' })).toBe(true);
    expect(canSeeAdmin({ role: 'support' })).toBe(true);
    expect(canSeeAdmin({ role: 'user' })).toBe(false);
    expect(canSeeAdmin(null)).toBe(false);
    expect(canSeeAdmin(undefined)).toBe(false);
  });
});

describe('displayName', () => {
  it('shows the e-mail, or Guest', () => {
    expect(displayName({ email: 'ada@example.com', isGuest: false })).toBe('ada@example.com');
    expect(displayName({ email: null, isGuest: true })).toBe('Guest');
  });
});
