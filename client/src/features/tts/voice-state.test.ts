import { describe, expect, it } from 'vitest';
import type { ApiError } from '../../lib/api-error.ts';
import { DEFAULT_VOICE_PREFERENCES, parseVoicePreferences, speakErrorText, speakLabel } from './voice-state.ts';

const apiError = (error: Partial<ApiError>): ApiError => ({ reason: 'internal', message: 'Something went wrong.', fieldErrors: {}, ...error });

describe('voice preferences', () => {
  it('reads what was stored and repairs anything else', () => {
    expect(parseVoicePreferences(JSON.stringify({ voice: 'en-us+f3', autoPlay: true }))).toEqual({ voice: 'en-us+f3', autoPlay: true });
    expect(parseVoicePreferences(null)).toEqual(DEFAULT_VOICE_PREFERENCES);
    expect(parseVoicePreferences('not json')).toEqual(DEFAULT_VOICE_PREFERENCES);
    expect(parseVoicePreferences('[1,2]')).toEqual({ voice: null, autoPlay: false });
    expect(parseVoicePreferences(JSON.stringify({ voice: '<script>', autoPlay: 'yes' }))).toEqual({ voice: null, autoPlay: false });
  });
});

describe('speak refusals', () => {
  it('says when to retry a busy voice service', () => {
    const busy = apiError({ reason: 'tts_busy', message: 'The voice service is busy right now.', retryAfterSeconds: 7 });
    expect(speakErrorText(busy, 7)).toBe('The voice service is busy right now. Try again in 7 seconds.');
    expect(speakErrorText(busy, 0)).toBe('The voice service is busy right now. You can try again now.');
  });

  it('says when the allowance resets', () => {
    const now = new Date('2026-11-23T10:00:00Z');
    const quota = apiError({ reason: 'quota_exhausted', message: 'You have used today’s characters.', resetAt: new Date('2026-11-24T00:00:00Z') });
    expect(speakErrorText(quota, undefined, now)).toMatch(/^You have used today’s characters\. Resets .*\.$/);
    expect(speakErrorText(apiError({ reason: 'quota_exhausted', message: 'Not in your plan.' }), undefined, now)).toBe('Not in your plan.');
  });

  it('names the button for each state', () => {
    expect(speakLabel('idle', 1234)).toBe('Read aloud (1,234 characters)');
    expect(speakLabel('loading')).toBe('Preparing audio…');
    expect(speakLabel('playing')).toBe('Stop reading aloud');
  });
});
