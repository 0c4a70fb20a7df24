import { useId } from 'react';
import { useQuery } from '@tanstack/react-query';
import { readApiError } from '../../lib/api-error.ts';
import { trpc } from '../../trpc.ts';
import { useVoicePreferences } from './use-voice-preferences.ts';
import './voice.css';

export const voicesQueryKey = ['tts', 'voices'] as const;

export type VoiceList = Awaited<ReturnType<typeof trpc.tts.voices.query>>;

/** The worker's voices; they change only when the worker is upgraded. */
export function useVoices() {
  return useQuery({ queryKey: voicesQueryKey, queryFn: () => trpc.tts.voices.query(), staleTime: 10 * 60_000 });
}

/** Groups voices by language for the select, in the worker's order. */
function byLanguage(voices: VoiceList['voices']): Array<[string, VoiceList['voices']]> {
  const groups = new Map<string, VoiceList['voices']>();
  for (const voice of voices) groups.set(voice.language, [...(groups.get(voice.language) ?? []), voice]);
  return [...groups];
}

/** Voice and auto-play settings, stored in this browser (use-voice-preferences.ts). */
export function VoicePicker({ showAutoPlay = true }: { showAutoPlay?: boolean }) {
  const id = useId();
  const voices = useVoices();
  const [preferences, update] = useVoicePreferences();
  const list = voices.data?.voices ?? [];
  const defaultName = list.find((v) => v.id === voices.data?.defaultVoice)?.name;
  // A stored voice the worker no longer offers falls back to the default.
  const selected = preferences.voice && list.some((v) => v.id === preferences.voice) ? preferences.voice : '';

  return (
    <div className="voice-picker">
      <label htmlFor={`${id}-voice`} className="voice-picker__label">
        Voice
      </label>
      <select
        id={`${id}-voice`}
        className="voice-picker__select"
        value={selected}
        disabled={!voices.data}
        aria-describedby={voices.isError ? `${id}-error` : undefined}
        onChange={(event) => update({ voice: event.target.value || null })}
      >
        <option value="">{voices.isPending ? 'Loading voices…' : defaultName ? `Default (${defaultName})` : 'Default'}</option>
        {byLanguage(list).map(([language, group]) => (
          <optgroup key={language} label={language}>
            {group.map((voice) => (
              <option key={voice.id} value={voice.id}>
                {voice.name}
              </option>
            ))}
          </optgroup>
        ))}
      </select>
      {showAutoPlay ? (
        <label className="voice-picker__autoplay">
          <input type="checkbox" checked={preferences.autoPlay} onChange={(event) => update({ autoPlay: event.target.checked })} />
          Read new answers aloud
        </label>
      ) : null}
      {voices.isError ? (
        <p id={`${id}-error`} className="voice-picker__error" role="status">
          {readApiError(voices.error).message}
        </p>
      ) : null}
    </div>
  );
}
