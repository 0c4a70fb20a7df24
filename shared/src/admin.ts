// Inputs of the admin procedures and the account data procedures, shared by the
// Admin tab's forms and the server's routers.
import { z } from 'zod';

/** Postgres text cannot hold NUL: refuse it as bad input instead of failing in the database. */
const noNul = (value: string) => !value.includes('\u0000');
const NUL_MESSAGE = 'Text cannot contain NUL characters';

export const OVERVIEW_DAYS = [1, 7, 30] as const;
export const ZOverviewInput = z.object({
  days: z.union([z.literal(1), z.literal(7), z.literal(30)]).default(30),
});

export const ZUserIdInput = z.object({ userId: z.uuid() });

export const ZAdminUsersInput = z.object({
  /** An e-mail prefix or substring (case-insensitive), or a user id. */
  query: z.string().trim().max(254).refine(noNul, NUL_MESSAGE).optional(),
  cursor: z.string().max(200).optional(),
  limit: z.number().int().min(1).max(100).default(25),
});
export type TAdminUsersInput = z.infer<typeof ZAdminUsersInput>;

export const ADJUSTMENT_REASON_MIN = 10;
/** The largest adjustment anyone may make in one go (admins included). */
export const ADJUSTMENT_MAX_TOKENS = 1_000_000_000;

export const ZAdjustCreditsInput = z.object({
  userId: z.uuid(),
  /** Signed: positive adds credits, negative takes them back (never below zero). */
  tokens: z
    .number()
    .int('Use a whole number of tokens')
    .min(-ADJUSTMENT_MAX_TOKENS, 'That adjustment is too large')
    .max(ADJUSTMENT_MAX_TOKENS, 'That adjustment is too large')
    .refine((n) => n !== 0, 'Enter a non-zero number of tokens'),
  reason: z
    .string()
    .trim()
    .min(ADJUSTMENT_REASON_MIN, `Give a reason of at least ${ADJUSTMENT_REASON_MIN} characters`)
    .max(500, 'Keep the reason under 500 characters')
    .refine(noNul, NUL_MESSAGE),
});
export type TAdjustCreditsInput = z.infer<typeof ZAdjustCreditsInput>;

export const ZSetPlanInput = z.object({ userId: z.uuid(), plan: z.string().min(1).max(32).refine(noNul, NUL_MESSAGE) });
export const ZSetBlockedInput = z.object({ userId: z.uuid(), blocked: z.boolean() });

/** The roles an admin may give: admin itself is only given by ADMIN_EMAIL (or SQL), never through the API. */
export const ASSIGNABLE_ROLES = ['user', 'support'] as const;
export type TAssignableRole = (typeof ASSIGNABLE_ROLES)[number];
export const ZSetRoleInput = z.object({ userId: z.uuid(), role: z.enum(ASSIGNABLE_ROLES, { error: 'The role must be "user" or "support"' }) });
export type TSetRoleInput = z.infer<typeof ZSetRoleInput>;

export const ZUpdateSettingsInput = z
  .object({
    killSwitch: z.boolean().optional(),
    /** The global daily token cap; null goes back to the default (MAX_TOKENS_PER_DAY). */
    maxTokensPerDay: z.number().int().min(0).max(1e15).nullable().optional(),
    /** The global provider-cost cap per UTC day in micro-USD; null goes back to the default (MAX_COST_PER_DAY_USD, unset: none). */
    maxCostPerDayMicroUsd: z.number().int('Use a whole number of micro-USD').min(0).max(1e15).nullable().optional(),
    /** The same per calendar month (MAX_COST_PER_MONTH_USD). */
    maxCostPerMonthMicroUsd: z.number().int('Use a whole number of micro-USD').min(0).max(1e15).nullable().optional(),
  })
  .refine(
    (v) => v.killSwitch !== undefined || v.maxTokensPerDay !== undefined || v.maxCostPerDayMicroUsd !== undefined || v.maxCostPerMonthMicroUsd !== undefined,
    'Change at least one setting',
  );
export type TUpdateSettingsInput = z.infer<typeof ZUpdateSettingsInput>;

export const AUDIT_ACTIONS = [
  'credits.adjust',
  'user.set_plan',
  'user.set_blocked',
  'user.set_role',
  'user.export',
  'user.delete',
  'account.delete',
  'settings.update',
] as const;
export type TAuditAction = (typeof AUDIT_ACTIONS)[number];

export const ZAuditLogInput = z.object({
  cursor: z.string().max(40).optional(),
  actorId: z.uuid().optional(),
  targetUserId: z.uuid().optional(),
  action: z.enum(AUDIT_ACTIONS).optional(),
  limit: z.number().int().min(1).max(100).default(50),
});
export type TAuditLogInput = z.infer<typeof ZAuditLogInput>;

/** An account deletion must say so: `true`, or the word DELETE typed by a person. */
export const ZDeleteConfirm = z.union([z.literal(true), z.literal('DELETE')], {
  error: 'Confirm the deletion (confirm: true, or type DELETE)',
});
export const ZDeleteAccountInput = z.object({ confirm: ZDeleteConfirm });
export const ZAdminDeleteUserInput = z.object({ userId: z.uuid(), confirm: ZDeleteConfirm });
