import { useEffect, useRef, useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { formatMicroUsd } from '@chatmeter/shared/money';
import type { TTtsSpeakOutput } from '@chatmeter/shared/tts';
import { readApiError, type ApiError } from '../../lib/api-error.ts';
import { useCountdown } from '../../lib/use-countdown.ts';
import { trpc } from '../../trpc.ts';
import { refreshUsage } from '../usage/use-usage.ts';
import { useVoicePreferences } from './use-voice-preferences.ts';
import { describeVoiceCost, speakErrorText, speakLabel } from './voice-state.ts';
import { ClipQueue, holdsVoice, releaseVoice, takeVoice } from './clip-queue.ts';
import './voice.css';

type Phase = 'idle' | 'loading' | 'playing';

// Reading the same answer again counts against the allowance (even from the
// server's cache), so a page keeps the URLs it already has and replays them.
const spokenUrls = new Map<string, TTtsSpeakOutput>();

interface SpeakButtonProps {
  /** An assistant message of the signed-in user (or guest). */
  messageId: string;
  /** Shown in the button's name, e.g. the message's length. */
  chars?: number;
  /** Read as soon as the button appears (the "read new answers aloud" preference). */
  autoPlay?: boolean;
  className?: string;
}

/** Play/stop toggle for reading one answer aloud (tts.speak, then its clips one after the other). */
export function SpeakButton({ messageId, chars, autoPlay = false, className }: SpeakButtonProps) {
  const queryClient = useQueryClient();
  const [preferences] = useVoicePreferences();
  const [phase, setPhase] = useState<Phase>('idle');
  const [error, setError] = useState<{ error: ApiError; waitUntil?: number } | null>(null);
  // What the reading cost with a paid engine (tts.speak's costMicroUsd; 0 for a free engine or a cached clip).
  const [cost, setCost] = useState(0);
  const audioRef = useRef<ClipQueue | null>(null);
  const [owner] = useState(() => Symbol('speak-button'));
  const remaining = useCountdown(error?.waitUntil);

  const speak = useMutation({
    mutationFn: (input: { messageId: string; voice?: string }) => trpc.tts.speak.mutate(input),
    onSettled: () => void refreshUsage(queryClient),
  });

  const stop = () => {
    const queue = audioRef.current;
    audioRef.current = null;
    queue?.stop();
    releaseVoice(owner);
    setPhase('idle');
  };
  const stopRef = useRef(stop);
  stopRef.current = stop;

  const play = (spoken: TTtsSpeakOutput, key: string, retried: boolean) => {
    const queue: ClipQueue = new ClipQueue({
      onEnd: () => {
        if (audioRef.current === queue) stop();
      },
      onError: () => {
        if (audioRef.current !== queue) return;
        // A clip left the server's cache since: ask for the reading again, once.
        spokenUrls.delete(key);
        audioRef.current = null;
        if (!retried) void start(true);
        else {
          setError({ error: { reason: 'internal', message: 'The audio could not be played.', fieldErrors: {} } });
          setPhase('idle');
        }
      },
    });
    audioRef.current = queue;
    setCost(spoken.costMicroUsd ?? 0);
    setPhase('playing');
    // A reading made while the reply streamed has a clip a sentence; an older answer's is one clip.
    const clips = spoken.clips?.length ? spoken.clips : [{ audioUrl: spoken.audioUrl, durationMs: spoken.durationMs }];
    for (const clip of clips) queue.push(clip.audioUrl);
    queue.close();
  };

  const start = async (retried = false) => {
    takeVoice(owner, () => stopRef.current());
    setError(null);
    const voice = preferences.voice ?? undefined;
    const key = `${messageId}|${voice ?? ''}`;
    const known = spokenUrls.get(key);
    if (known) return play(known, key, retried);
    setPhase('loading');
    try {
      const spoken = await speak.mutateAsync({ messageId, ...(voice ? { voice } : {}) });
      spokenUrls.set(key, spoken);
      // Another answer started reading meanwhile.
      if (!holdsVoice(owner)) return setPhase('idle');
      play(spoken, key, retried);
    } catch (caught) {
      const apiError = readApiError(caught);
      setError({ error: apiError, ...(apiError.retryAfterSeconds ? { waitUntil: Date.now() + apiError.retryAfterSeconds * 1000 } : {}) });
      releaseVoice(owner);
      setPhase('idle');
    }
  };

  const autoStarted = useRef(false);
  // biome-ignore lint/correctness/useExhaustiveDependencies: started once, when the button first appears (start is a new function every render).
  useEffect(() => {
    if (autoPlay && !autoStarted.current) {
      autoStarted.current = true;
      void start();
    }
  }, [autoPlay]);

  // Leaving the page (or the message) stops the sound.
  useEffect(
    () => () => {
      const queue = audioRef.current;
      audioRef.current = null;
      queue?.stop();
      releaseVoice(owner);
    },
    [owner],
  );

  const label = speakLabel(phase, chars);
  const costText = describeVoiceCost(cost, formatMicroUsd);
  return (
    <span className={`speak${className ? ` ${className}` : ''}`}>
      <button
        type="button"
        className={`icon-btn speak__button speak__button--${phase}`}
        aria-label={label}
        title={label}
        aria-pressed={phase === 'playing'}
        aria-busy={phase === 'loading' || undefined}
        disabled={phase === 'loading'}
        onClick={() => (phase === 'playing' ? stop() : void start())}
      >
        {phase === 'loading' ? <span className="spinner speak__spinner" aria-hidden="true" /> : phase === 'playing' ? <StopIcon /> : <SpeakerIcon />}
      </button>
      {costText ? (
        <span className="speak__cost" title="What reading this answer aloud cost">
          {costText}
        </span>
      ) : null}
      {error ? (
        <span className={`speak__error speak__error--${error.error.reason}`} role="alert">
          {speakErrorText(error.error, remaining)}
        </span>
      ) : null}
    </span>
  );
}

function SpeakerIcon() {
  return (
    <svg aria-hidden="true" viewBox="0 0 20 20" width="18" height="18">
      <path fill="currentColor" d="M3 7.5h3l4-3.5v12l-4-3.5H3Z" />
      <path fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" d="M13 7.2a4 4 0 0 1 0 5.6M15.3 5a7 7 0 0 1 0 10" />
    </svg>
  );
}

function StopIcon() {
  return (
    <svg aria-hidden="true" viewBox="0 0 20 20" width="18" height="18">
      <rect x="5" y="5" width="10" height="10" rx="1.5" fill="currentColor" />
    </svg>
  );
}
