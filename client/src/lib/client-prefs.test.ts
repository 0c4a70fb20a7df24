import { describe, expect, it } from 'vitest';
import { applyTheme, CLIENT_PREFS_KEY, DEFAULT_CLIENT_PREFS, parseClientPrefs, readClientPrefs } from './client-prefs.ts';

describe('parseClientPrefs', () => {
  it('is the defaults for nothing or junk', () => {
    expect(parseClientPrefs(null)).toEqual(DEFAULT_CLIENT_PREFS);
    expect(parseClientPrefs('not json')).toEqual(DEFAULT_CLIENT_PREFS);
    expect(parseClientPrefs('42')).toEqual(DEFAULT_CLIENT_PREFS);
  });

  it('keeps valid fields and replaces invalid ones one by one', () => {
    expect(parseClientPrefs(JSON.stringify({ theme: 'dark', defaultModel: 'gpt-4o' }))).toEqual({ theme: 'dark', defaultModel: 'gpt-4o' });
    expect(parseClientPrefs(JSON.stringify({ theme: 'neon', defaultModel: '', extra: 1 }))).toEqual(DEFAULT_CLIENT_PREFS);
    expect(parseClientPrefs(JSON.stringify({ theme: 'light', defaultModel: 42 }))).toEqual({ theme: 'light', defaultModel: null });
  });
});

describe('readClientPrefs', () => {
  it('reads the stored value and survives a storage that throws', () => {
    const store = { getItem: (key: string) => (key === CLIENT_PREFS_KEY ? '{"theme":"light"}' : null), setItem: () => {} };
    expect(readClientPrefs(store).theme).toBe('light');
    const broken = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {},
    };
    expect(readClientPrefs(broken)).toEqual(DEFAULT_CLIENT_PREFS);
  });
});

describe('applyTheme', () => {
  it('sets data-theme for light and dark, removes it for system', () => {
    const root = { dataset: {} as DOMStringMap };
    applyTheme('dark', root);
    expect(root.dataset.theme).toBe('dark');
    applyTheme('system', root);
    expect(root.dataset.theme).toBeUndefined();
  });
});
