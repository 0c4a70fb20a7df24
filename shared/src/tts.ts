import { z } from 'zod';
import type { ErrorReason, LimitName } from './errors.ts';

/** Voice ids as the worker names them (`en-us`, `en-us+f3`, `de`...). */
export const ZVoiceId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9_+-]*$/i, 'not a voice id');

export const ZTtsSpeakInput = z.object({
  messageId: z.uuid(),
  /** One of `tts.voices()`; the server's default voice when left out. */
  voice: ZVoiceId.optional(),
});
export type TTtsSpeakInput = z.infer<typeof ZTtsSpeakInput>;

/** Which kind of engine speaks (TTS_ENGINE): the built-in worker, or a server speaking OpenAI's POST /v1/audio/speech. */
export type TTtsEngine = 'espeak-ng' | 'openai-compatible';

export interface TVoice {
  id: string;
  name: string;
  /** BCP 47 tag, e.g. `en-US`. */
  language: string;
  /** The engine that speaks this voice. */
  engine: TTtsEngine;
}

export interface TTtsVoices {
  voices: TVoice[];
  defaultVoice: string;
  /** `<engine id>@<version>`, e.g. `espeak-ng@1.0.2`; `openai-compatible:<TTS_MODEL>` for an OpenAI-compatible server. */
  engine: string;
  /**
   * What a reading costs in dollars: integer micro-USD per million characters (the same
   * characters `chars` counts); 0 for the built-in engine and for a free self-hosted one.
   */
  microsPerMillionChars: number;
}

/** One clip of a reading, in the order it is played. */
export interface TSpeechClip {
  audioUrl: string;
  durationMs: number;
}

export interface TTtsSpeakOutput {
  /** Same-origin URL of the audio (`/audio/<clip id>`); only this user may fetch it. The first of `clips`. */
  audioUrl: string;
  /** The whole reading (all of `clips`). */
  durationMs: number;
  /**
   * The reading's clips, played one after the other: one for an answer read aloud by tts.speak,
   * one a sentence for an answer that was read aloud as it streamed (chat.send with `speak`),
   * whose clips are reused without a second charge.
   */
  clips: TSpeechClip[];
  /**
   * Characters counted against the daily allowance: Unicode code points of the text as
   * spoken (`speechChars` in speech-text.ts: numbers spelled out, markup and code left out).
   */
  chars: number;
  voice: string;
  mime: string;
  /**
   * True when the clip came from the cache (no synthesis; the characters still count), or when
   * every sentence clip of a streamed reading was reused (nothing counted: `chars` is then the
   * reading's length, not a charge).
   */
  cached: boolean;
  /** What this reading cost in micro-USD (recorded in its usage event): 0 for a cache hit and a free engine. */
  costMicroUsd: number;
}

/** Unicode code points: the unit of the voice allowance (applied to the spoken text, speech-text.ts). */
export function countTtsChars(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/**
 * The speech events of a reply streamed with `speak: true`, among chat.send's events
 * (docs/api.md). `index` is the sentence's place in the reply (0, 1, 2...); events come
 * in that order, a sentence either as `audio` or as `audio_skipped`. They may follow
 * `done`: the stream ends after the last of them. `audio_end` comes only when speech
 * stopped before the reply's end (a limit, the engine down); the text goes on.
 */
export type TSpeechEvent =
  | {
      type: 'audio';
      index: number;
      audioUrl: string;
      durationMs: number;
      chars: number;
      /**
       * What this sentence cost in micro-USD (its `tts` usage event's cost): 0 for the built-in
       * engine, a free one, and a reused clip. Optional: servers before it leave it out.
       */
      costMicroUsd?: number;
    }
  | { type: 'audio_skipped'; index: number; reason: ErrorReason; message: string }
  | { type: 'audio_end'; index: number; reason: ErrorReason; limit: LimitName | null; message: string };
