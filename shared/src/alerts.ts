// Inputs and names of the alerts feature: in-app notifications, the user's
// preferences and the daily usage series (docs/api.md).
import { z } from 'zod';

/**
 * The quotas that raise a notification at 80, 90 and 100 % of their limit in a period:
 * `cost_month` is the plan's provider-cost cap and `spend_limit` the user's own monthly
 * spending limit, both per billing period (the one of `tokens_month`), in micro-USD.
 */
export const QUOTA_ALERT_KINDS = ['messages_day', 'tokens_month', 'tts_chars_day', 'messages_hour', 'cost_month', 'spend_limit'] as const;
export type TQuotaAlertKind = (typeof QUOTA_ALERT_KINDS)[number];
export const QUOTA_ALERT_THRESHOLDS = [80, 90, 100] as const;

export const ZNotificationsListInput = z
  .object({
    cursor: z.string().max(200).optional(),
    limit: z.number().int().min(1).max(50).default(20),
  })
  .optional();

/** Notification ids are decimal strings (bigint rows). */
const notificationId = z.string().regex(/^\d{1,18}$/, 'not a notification id');

export const ZNotificationsMarkReadInput = z.union([z.object({ ids: z.array(notificationId).min(1).max(100) }), z.object({ all: z.literal(true) })]);
export type TNotificationsMarkReadInput = z.infer<typeof ZNotificationsMarkReadInput>;

export const THEMES = ['system', 'light', 'dark'] as const;
export type TTheme = (typeof THEMES)[number];

/** A voice id as tts.voices lists them. */
export const ZVoiceId = z.string().regex(/^[a-z0-9][a-z0-9_+-]{0,63}$/i, 'not a voice id');

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

export const ZUsageDailyInput = z.object({ days: z.number().int().min(1).max(90).default(30) }).optional();
