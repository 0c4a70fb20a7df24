import type { TPreferences } from '@chatmeter/shared/preferences';
import { describe, expect, it } from 'vitest';
import { firstSync, localSharedPrefs, prefsDiff } from './account-prefs.ts';

const SERVER: TPreferences = {
  alertEmails: true,
  theme: 'dark',
  defaultModel: 'gpt-4o',
  voice: 'en-us+f3',
  autoPlay: true,
  monthlySpendLimitMicroUsd: null,
  clientPrefsSavedAt: new Date('2026-12-01T00:00:00Z'),
};
const LOCAL = localSharedPrefs({ theme: 'light', defaultModel: null }, { voice: null, autoPlay: false });

describe('account preferences', () => {
  it('applies what the account saved, on any browser', () => {
    expect(firstSync(SERVER, LOCAL)).toEqual({ apply: { theme: 'dark', defaultModel: 'gpt-4o', voice: 'en-us+f3', autoPlay: true } });
  });

  it('uploads this browser’s choices when the account never saved any', () => {
    expect(firstSync({ ...SERVER, clientPrefsSavedAt: null }, LOCAL)).toEqual({ upload: { theme: 'light', defaultModel: null, voice: null, autoPlay: false } });
  });

  it('sends only what changed, and nothing when nothing did', () => {
    expect(prefsDiff(SERVER, { ...SERVER, theme: 'system' })).toEqual({ theme: 'system' });
    expect(prefsDiff(SERVER, LOCAL)).toEqual({ theme: 'light', defaultModel: null, voice: null, autoPlay: false });
    expect(prefsDiff(SERVER, { theme: 'dark', defaultModel: 'gpt-4o', voice: 'en-us+f3', autoPlay: true })).toBeNull();
  });
});
