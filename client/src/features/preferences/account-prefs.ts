// The preferences a signed-in account keeps on the server (preferences.get/update)
// and the copies this browser keeps in localStorage (client-prefs.ts for theme
// and default model, features/tts for voice and auto-play). Pure: what to
// apply after sign-in and what to send when the browser's copy changes.
import type { TPreferences, TPreferencesUpdate } from '@chatmeter/shared/preferences';
import type { ClientPrefs } from '../../lib/client-prefs.ts';
import type { VoicePreferences } from '../tts/voice-state.ts';

/** The four that follow the account to any browser. */
export type SharedPrefs = Pick<TPreferences, 'theme' | 'defaultModel' | 'voice' | 'autoPlay'>;

export function localSharedPrefs(client: ClientPrefs, voice: VoicePreferences): SharedPrefs {
  return { theme: client.theme, defaultModel: client.defaultModel, voice: voice.voice, autoPlay: voice.autoPlay };
}

/**
 * Right after sign-in: the account's choices win when a browser ever saved them
 * (`apply`); an account that never had any takes this browser's (`upload`), so
 * what a user chose before this feature, or as a guest, is not lost.
 */
export function firstSync(server: TPreferences, local: SharedPrefs): { apply: SharedPrefs } | { upload: TPreferencesUpdate } {
  if (server.clientPrefsSavedAt) {
    return { apply: { theme: server.theme, defaultModel: server.defaultModel, voice: server.voice, autoPlay: server.autoPlay } };
  }
  return { upload: { ...local } };
}

/** The fields of `local` that differ from the server's copy; null when nothing does. */
export function prefsDiff(server: SharedPrefs, local: SharedPrefs): TPreferencesUpdate | null {
  const diff: TPreferencesUpdate = {};
  if (server.theme !== local.theme) diff.theme = local.theme;
  if (server.defaultModel !== local.defaultModel) diff.defaultModel = local.defaultModel;
  if (server.voice !== local.voice) diff.voice = local.voice;
  if (server.autoPlay !== local.autoPlay) diff.autoPlay = local.autoPlay;
  return Object.keys(diff).length > 0 ? diff : null;
}
