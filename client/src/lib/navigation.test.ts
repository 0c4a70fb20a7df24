import { describe, expect, it } from 'vitest';
import { nextQuery, safeNextPath, signedOutNotice, signedOutUrl } from './navigation.ts';

describe('safeNextPath', () => {
  it.each([
    ['/usage', '/usage'],
    ['/billing?tab=packs#top', '/billing?tab=packs#top'],
    ['/a/../account', '/account'],
  ])('keeps the on-site path %s', (input, expected) => {
    expect(safeNextPath(input)).toBe(expected);
  });

  it.each([null, undefined, '', 'usage', 'https://evil.example/', '//evil.example/x', '/\\evil.example', '\\\\evil.example', 'javascript:alert(1)'])(
    'falls back for %s',
    (input) => {
      expect(safeNextPath(input)).toBe('/');
    },
  );

  it('does not bounce back to an auth page', () => {
    expect(safeNextPath('/sign-in')).toBe('/');
    expect(safeNextPath('/magic-link?token=abc')).toBe('/');
  });
});

describe('nextQuery', () => {
  it('is empty for the home page and encodes other paths', () => {
    expect(nextQuery('/')).toBe('');
    expect(nextQuery('/billing', '?x=1')).toBe('?next=%2Fbilling%3Fx%3D1');
    expect(nextQuery('/sign-in')).toBe('');
  });
});

describe('signedOutNotice', () => {
  it('turns the sign-out marker into a notice and ignores anything else', () => {
    expect(signedOutUrl('here')).toBe('/sign-in?signed-out=here');
    expect(signedOutNotice('here')).toBe('You have signed out.');
    expect(signedOutNotice('everywhere')).toBe('You have signed out on every device.');
    expect(signedOutNotice('<script>')).toBeUndefined();
    expect(signedOutNotice(null)).toBeUndefined();
  });
});
