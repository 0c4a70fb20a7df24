import { z } from 'zod';

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

export interface TVoice {
  id: string;
  name: string;
  /** BCP 47 tag, e.g. `en-US`. */
  language: string;
}

export interface TTtsVoices {
  voices: TVoice[];
  defaultVoice: string;
  /** `<engine id>@<version>`, e.g. `espeak-ng@1.0.2`. */
  engine: string;
}

export interface TTtsSpeakOutput {
  /** Same-origin URL of the audio (`/audio/<clip id>`); only this user may fetch it. */
  audioUrl: string;
  durationMs: number;
  /**
   * Characters counted against the daily allowance: Unicode code points of the text as
   * spoken (`speechChars` in speech-text.ts: numbers spelled out, markup and code left out).
   */
  chars: number;
  voice: string;
  mime: string;
  /** True when the clip came from the cache (no synthesis; the characters still count). */
  cached: boolean;
}

/** Unicode code points: the unit of the voice allowance (applied to the spoken text, speech-text.ts). */
export function countTtsChars(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
