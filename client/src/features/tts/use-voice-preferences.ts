// The voice and auto-play choice, kept in localStorage and shared by every
// component (and tab) that reads it.
import { useCallback, useSyncExternalStore } from 'react';
import { DEFAULT_VOICE_PREFERENCES, parseVoicePreferences, VOICE_PREFERENCES_KEY, type VoicePreferences } from './voice-state.ts';

export type { VoicePreferences } from './voice-state.ts';

const listeners = new Set<() => void>();
let snapshot: { raw: string | null; value: VoicePreferences } | undefined;

function readRaw(): string | null {
  try {
    return window.localStorage.getItem(VOICE_PREFERENCES_KEY);
  } catch {
    // Storage can be off (privacy settings): preferences then last for the page only.
    return memoryRaw;
  }
}
let memoryRaw: string | null = null;

/** Stable between changes, as useSyncExternalStore needs. */
function getSnapshot(): VoicePreferences {
  const raw = readRaw();
  if (!snapshot || snapshot.raw !== raw) snapshot = { raw, value: parseVoicePreferences(raw) };
  return snapshot.value;
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  const onStorage = (event: StorageEvent) => {
    if (event.key === VOICE_PREFERENCES_KEY || event.key === null) listener();
  };
  window.addEventListener('storage', onStorage);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('storage', onStorage);
  };
}

/** Called when the voice or auto-play changes, here or in another tab. */
export function subscribeVoicePreferences(listener: () => void): () => void {
  return subscribe(listener);
}

export function getVoicePreferences(): VoicePreferences {
  return typeof window === 'undefined' ? DEFAULT_VOICE_PREFERENCES : getSnapshot();
}

export function setVoicePreferences(patch: Partial<VoicePreferences>): void {
  const raw = JSON.stringify({ ...getVoicePreferences(), ...patch });
  memoryRaw = raw;
  try {
    window.localStorage.setItem(VOICE_PREFERENCES_KEY, raw);
  } catch {
    // Kept in memory instead (see readRaw).
  }
  for (const listener of listeners) listener();
}

export function useVoicePreferences(): [VoicePreferences, (patch: Partial<VoicePreferences>) => void] {
  const preferences = useSyncExternalStore(subscribe, getSnapshot, () => DEFAULT_VOICE_PREFERENCES);
  const update = useCallback((patch: Partial<VoicePreferences>) => setVoicePreferences(patch), []);
  return [preferences, update];
}
