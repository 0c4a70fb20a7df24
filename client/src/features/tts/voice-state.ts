// The pure part of voice in the browser: stored preferences, and what to tell the
// user when tts.speak is refused, what a reading cost. Tested without a browser.
import { describeApiError, type ApiError } from '../../lib/api-error.ts';
import { describeReset } from '../usage/usage-math.ts';

export interface VoicePreferences {
  /** A voice id from tts.voices; null: the server's default voice. */
  voice: string | null;
  /** Read each new answer aloud when it is complete. */
  autoPlay: boolean;
}

export const VOICE_PREFERENCES_KEY = 'chatmeter.voice';
export const DEFAULT_VOICE_PREFERENCES: VoicePreferences = { voice: null, autoPlay: false };

/** Whatever is stored (nothing, an older shape, garbage) becomes valid preferences. */
export function parseVoicePreferences(raw: string | null): VoicePreferences {
  if (!raw) return DEFAULT_VOICE_PREFERENCES;
  try {
    const value: unknown = JSON.parse(raw);
    if (!value || typeof value !== 'object') return DEFAULT_VOICE_PREFERENCES;
    const { voice, autoPlay } = value as Record<string, unknown>;
    return {
      voice: typeof voice === 'string' && /^[a-z0-9][a-z0-9_+-]{0,63}$/i.test(voice) ? voice : null,
      autoPlay: autoPlay === true,
    };
  } catch {
    return DEFAULT_VOICE_PREFERENCES;
  }
}

/** One line next to the speak button, by the refusal's reason. */
export function speakErrorText(error: ApiError, remainingSeconds?: number, now: Date = new Date()): string {
  switch (error.reason) {
    case 'tts_busy':
      return describeApiError(error, remainingSeconds);
    case 'quota_exhausted':
      return error.resetAt && error.resetAt > now ? `${error.message} ${describeReset(error.resetAt, now)}.` : error.message;
    default:
      return error.message;
  }
}

/** The button's accessible name in each state. */
export function speakLabel(phase: 'idle' | 'loading' | 'playing', chars?: number): string {
  if (phase === 'loading') return 'Preparing audio…';
  if (phase === 'playing') return 'Stop reading aloud';
  return chars ? `Read aloud (${chars.toLocaleString('en-US')} characters)` : 'Read aloud';
}

/** "voice $0.0012": what reading a reply aloud cost, for its usage line; null when it cost nothing (a free engine). */
export function describeVoiceCost(costMicroUsd: number | null | undefined, formatCost: (micros: number) => string): string | null {
  return costMicroUsd && costMicroUsd > 0 ? `voice ${formatCost(costMicroUsd)}` : null;
}
