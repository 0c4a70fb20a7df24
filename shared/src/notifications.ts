// In-app notifications: the quota alert kinds and thresholds, and the notifications
// procedures' inputs (docs/api.md).
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
