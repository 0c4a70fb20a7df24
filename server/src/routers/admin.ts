import {
  ZAdjustCreditsInput,
  ZAdminDeleteUserInput,
  ZAdminUsersInput,
  ZAuditLogInput,
  ZOverviewInput,
  ZSetBlockedInput,
  ZSetPlanInput,
  ZSetRoleInput,
  ZUpdateSettingsInput,
  ZUserIdInput,
} from '@chatmeter/shared/admin';
import { ZReconciliationInput } from '@chatmeter/shared/reconcile';
import type { Actor } from '../audit/audit-log.ts';
import type { Context } from '../trpc/context.ts';
import { adminProcedure, router, supportProcedure } from '../trpc/init.ts';

function actorOf(ctx: Context & { user: NonNullable<Context['user']> }): Actor {
  return { id: ctx.user.id, role: ctx.user.role, requestId: ctx.meta.requestId };
}

/**
 * Support: the read-only procedures and adjustCredits (accounts of role user only, within
 * SUPPORT_MAX_ADJUSTMENT_TOKENS a call and SUPPORT_MAX_ADJUSTMENT_TOKENS_PER_DAY a day). Admin: everything.
 */
export const adminRouter = router({
  overview: supportProcedure.input(ZOverviewInput.optional()).query(({ ctx, input }) => ctx.deps.overview.overview(input?.days ?? 30)),

  /** Metered cost against the provider's reported cost per closed UTC day, with the drift. */
  reconciliation: supportProcedure
    .input(ZReconciliationInput.optional())
    .query(({ ctx, input }) => ctx.deps.reconcile.report(input?.days ?? ZReconciliationInput.parse({}).days)),

  users: supportProcedure.input(ZAdminUsersInput.optional()).query(({ ctx, input }) => ctx.deps.admin.users(input ?? ZAdminUsersInput.parse({}))),

  user: supportProcedure.input(ZUserIdInput).query(({ ctx, input }) => ctx.deps.admin.user(input.userId)),

  adjustCredits: supportProcedure.input(ZAdjustCreditsInput).mutation(({ ctx, input }) => ctx.deps.admin.adjustCredits(actorOf(ctx), input)),

  setPlan: adminProcedure.input(ZSetPlanInput).mutation(({ ctx, input }) => ctx.deps.admin.setPlan(actorOf(ctx), input)),

  /** Gives or takes the support role ("user" | "support"); never an admin's, never one's own. Audited user.set_role. */
  setRole: adminProcedure.input(ZSetRoleInput).mutation(({ ctx, input }) => ctx.deps.admin.setRole(actorOf(ctx), input)),

  setBlocked: adminProcedure.input(ZSetBlockedInput).mutation(({ ctx, input }) => ctx.deps.admin.setBlocked(actorOf(ctx), input)),

  /** The kill switch, the daily cap (and what is used of it today), and the retention job's last run. */
  settings: supportProcedure.query(async ({ ctx }) => {
    const [settings, lastRun] = await Promise.all([ctx.deps.admin.settings(), ctx.deps.retention.lastRun()]);
    return {
      ...settings,
      retention: { retentionDays: ctx.deps.env.RETENTION_DAYS, messageRetentionDays: ctx.deps.env.MESSAGE_RETENTION_DAYS ?? null, lastRun },
    };
  }),

  /** Every paid plan's price, worst-case monthly provider cost and margin with this deployment's prices (admin only). */
  planEconomics: adminProcedure.query(({ ctx }) => ({ plans: ctx.deps.economics.paidPlans() })),

  updateSettings: adminProcedure.input(ZUpdateSettingsInput).mutation(({ ctx, input }) => ctx.deps.admin.updateSettings(actorOf(ctx), input)),

  auditLog: supportProcedure.input(ZAuditLogInput.optional()).query(({ ctx, input }) => ctx.deps.admin.auditLog(input ?? ZAuditLogInput.parse({}))),

  /** A user's data as JSON (GDPR access request); audited. */
  exportUser: adminProcedure.input(ZUserIdInput).mutation(({ ctx, input }) => ctx.deps.accountData.exportForAdmin(input.userId, actorOf(ctx))),

  /** Deletes a user's personal data, keeping anonymised usage (GDPR erasure); audited. */
  deleteUser: adminProcedure.input(ZAdminDeleteUserInput).mutation(({ ctx, input }) => ctx.deps.accountData.deleteAccount(input.userId, actorOf(ctx))),
});
