import { useSyncExternalStore } from 'react';
import { applyTheme, clientPrefsStore, type ClientPrefs } from './client-prefs.ts';

export function useClientPrefs(): [ClientPrefs, (patch: Partial<ClientPrefs>) => void] {
  const prefs = useSyncExternalStore(clientPrefsStore.subscribe, clientPrefsStore.get, clientPrefsStore.get);
  const update = (patch: Partial<ClientPrefs>) => {
    const next = clientPrefsStore.set(patch);
    if (patch.theme) applyTheme(next.theme);
  };
  return [prefs, update];
}
