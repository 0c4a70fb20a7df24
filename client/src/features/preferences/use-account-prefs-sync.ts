// Keeps this browser's theme, default model, voice and auto-play in step with
// the signed-in account: after sign-in the account's choices are applied here
// (or, if it never had any, this browser's are saved to it); later changes made
// in this browser are sent to the server. Guests keep theirs in localStorage only.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import type { TPreferences } from '@chatmeter/shared/preferences';
import type { TMe } from '@chatmeter/shared/auth';
import { applyTheme, clientPrefsStore } from '../../lib/client-prefs.ts';
import { trpc } from '../../trpc.ts';
import { preferencesQueryKey } from '../usage/use-usage-extras.ts';
import { getVoicePreferences, setVoicePreferences, subscribeVoicePreferences } from '../tts/use-voice-preferences.ts';
import { firstSync, localSharedPrefs, prefsDiff, type SharedPrefs } from './account-prefs.ts';

function readLocal(): SharedPrefs {
  return localSharedPrefs(clientPrefsStore.get(), getVoicePreferences());
}

export function useAccountPrefsSync(me: TMe | null | undefined): void {
  const account = me && !me.isGuest ? me.id : null;
  const queryClient = useQueryClient();
  const server = useQuery({ queryKey: preferencesQueryKey, queryFn: () => trpc.preferences.get.query(), enabled: account !== null, staleTime: 5 * 60_000 });
  // The account whose choices this browser has taken in (until then nothing is sent: a new browser's
  // defaults must not overwrite what the account saved).
  const synced = useRef<string | null>(null);

  const save = (patch: Parameters<typeof trpc.preferences.update.mutate>[0]) =>
    trpc.preferences.update
      .mutate(patch)
      .then((saved) => queryClient.setQueryData<TPreferences>(preferencesQueryKey, saved))
      // Not saved (offline, signed out meanwhile): the next change or sign-in tries again.
      .catch(() => {});

  // biome-ignore lint/correctness/useExhaustiveDependencies: once per account, when its preferences arrive (save is a new function every render and reads only the stable query client).
  useEffect(() => {
    if (!account || !server.data || synced.current === account) return;
    const step = firstSync(server.data, readLocal());
    if ('apply' in step) {
      clientPrefsStore.set({ theme: step.apply.theme, defaultModel: step.apply.defaultModel });
      applyTheme(step.apply.theme);
      setVoicePreferences({ voice: step.apply.voice, autoPlay: step.apply.autoPlay });
    } else {
      void save(step.upload);
    }
    synced.current = account;
  }, [account, server.data]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: subscribed once per account; save and the query client are stable in what they do.
  useEffect(() => {
    if (!account) return;
    const push = () => {
      if (synced.current !== account) return;
      const saved = queryClient.getQueryData<TPreferences>(preferencesQueryKey);
      if (!saved) return;
      const diff = prefsDiff(saved, readLocal());
      if (diff) void save(diff);
    };
    const stopClient = clientPrefsStore.subscribe(push);
    const stopVoice = subscribeVoicePreferences(push);
    return () => {
      stopClient();
      stopVoice();
    };
  }, [account]);
}
