// This browser's copy of the theme and the model the chat starts with, kept in
// localStorage: a guest's only store; for an account, features/preferences keeps
// it in step with preferences.get/update. (Voice and auto-play are features/tts's
// own store.) Pure functions plus a tiny store; no DOM access at import time.
import { z } from 'zod';

export const THEMES = ['system', 'light', 'dark'] as const;
export type Theme = (typeof THEMES)[number];

const ZClientPrefs = z.object({
  theme: z.enum(THEMES).catch('system'),
  defaultModel: z.string().min(1).max(200).nullable().catch(null),
});
export type ClientPrefs = z.infer<typeof ZClientPrefs>;

export const DEFAULT_CLIENT_PREFS: ClientPrefs = { theme: 'system', defaultModel: null };
export const CLIENT_PREFS_KEY = 'chatmeter.prefs';

/** Whatever is stored (nothing, old shapes, hand-edited junk) becomes valid preferences. */
export function parseClientPrefs(raw: string | null): ClientPrefs {
  if (!raw) return DEFAULT_CLIENT_PREFS;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return DEFAULT_CLIENT_PREFS;
  }
  const parsed = ZClientPrefs.safeParse({ ...DEFAULT_CLIENT_PREFS, ...(typeof value === 'object' && value !== null ? value : {}) });
  return parsed.success ? parsed.data : DEFAULT_CLIENT_PREFS;
}

type PrefsStorage = Pick<Storage, 'getItem' | 'setItem'>;

/** localStorage, or nothing where it is unavailable (private modes, tests). */
function storage(): PrefsStorage | undefined {
  try {
    return typeof localStorage === 'undefined' ? undefined : localStorage;
  } catch {
    return undefined;
  }
}

export function readClientPrefs(store: PrefsStorage | undefined = storage()): ClientPrefs {
  try {
    return parseClientPrefs(store?.getItem(CLIENT_PREFS_KEY) ?? null);
  } catch {
    return DEFAULT_CLIENT_PREFS;
  }
}

const listeners = new Set<() => void>();
let current: ClientPrefs | undefined;

/** The store behind useClientPrefs: one snapshot object until something changes. */
export const clientPrefsStore = {
  get(): ClientPrefs {
    current ??= readClientPrefs();
    return current;
  },
  set(patch: Partial<ClientPrefs>, store: PrefsStorage | undefined = storage()): ClientPrefs {
    current = { ...clientPrefsStore.get(), ...patch };
    try {
      store?.setItem(CLIENT_PREFS_KEY, JSON.stringify(current));
    } catch {
      // Storage full or refused: the choice lasts for this page only.
    }
    for (const listener of listeners) listener();
    return current;
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    // Another tab changed them.
    const onStorage = (event: StorageEvent) => {
      if (event.key !== CLIENT_PREFS_KEY) return;
      current = parseClientPrefs(event.newValue);
      listener();
    };
    if (typeof window !== 'undefined') window.addEventListener('storage', onStorage);
    return () => {
      listeners.delete(listener);
      if (typeof window !== 'undefined') window.removeEventListener('storage', onStorage);
    };
  },
};

/** `system` follows the OS (theme.css: color-scheme: light dark); light and dark fix the scheme (data-theme). */
export function applyTheme(
  theme: Theme,
  root: { dataset: DOMStringMap } | undefined = typeof document === 'undefined' ? undefined : document.documentElement,
): void {
  if (!root) return;
  if (theme === 'system') delete root.dataset.theme;
  else root.dataset.theme = theme;
}
