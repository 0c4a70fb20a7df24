// Inputs and names of the alerts feature: in-app notifications, the user's
// preferences and the daily usage series (docs/api.md).
import { z } from 'zod';

/** The quotas that raise a notification at 80, 90 and 100 % of their limit in a period. */
export const QUOTA_ALERT_KINDS = ['messages_day', 'tokens_month', 'tts_chars_day', 'messages_hour'] as const;
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

export const ZNotificationsMarkReadInput = z.union([
  z.object({ ids: z.array(notificationId).min(1).max(100) }),
  z.object({ all: z.literal(true) }),
]);
export type TNotificationsMarkReadInput = z.infer<typeof ZNotificationsMarkReadInput>;

export const ZPreferencesUpdateInput = z.object({
  /** E-mail me when I reach 80, 90 and 100 % of a limit. */
  alertEmails: z.boolean(),
});
export type TPreferences = z.infer<typeof ZPreferencesUpdateInput>;

export const ZUsageDailyInput = z
  .object({ days: z.number().int().min(1).max(90).default(30) })
  .optional();
