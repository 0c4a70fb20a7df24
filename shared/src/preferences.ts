// The user's preferences kept on the server (preferences.get / update, docs/api.md).
import { z } from 'zod';
import { ZVoiceId } from './tts.ts';

export const THEMES = ['system', 'light', 'dark'] as const;
export type TTheme = (typeof THEMES)[number];

/** Every field optional: only what is given changes. */
export const ZPreferencesUpdateInput = z.object({
  /** E-mail me when I reach 80, 90 and 100 % of a limit. */
  alertEmails: z.boolean().optional(),
  theme: z.enum(THEMES).optional(),
  /** The model a new chat starts with; null: the plan's first. Ignored where the plan lacks it. */
  defaultModel: z.string().min(1).max(200).nullable().optional(),
  /** null: the server's default voice. */
  voice: ZVoiceId.nullable().optional(),
  /** Read each new answer aloud. */
  autoPlay: z.boolean().optional(),
  /** My own monthly spending limit in micro-USD, below the plan's cap; null: none. */
  monthlySpendLimitMicroUsd: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).nullable().optional(),
});
export type TPreferencesUpdate = z.infer<typeof ZPreferencesUpdateInput>;

export interface TPreferences {
  alertEmails: boolean;
  theme: TTheme;
  defaultModel: string | null;
  voice: string | null;
  autoPlay: boolean;
  /** The user's own monthly spending limit in micro-USD; null: none. */
  monthlySpendLimitMicroUsd: number | null;
  /** When a browser last saved theme, defaultModel, voice or autoPlay; null: never (a browser then uploads its own). */
  clientPrefsSavedAt: Date | null;
}
