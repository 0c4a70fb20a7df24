import { ZUsageDailyInput } from '@chatmeter/shared/usage';
import { ZCursorPage } from '@chatmeter/shared/chat';
import { authedProcedure, router } from '../trpc/init.ts';

export const usageRouter = router({
  summary: authedProcedure.query(({ ctx }) => ctx.deps.usage.summary(ctx.user, ctx.deps.planResolver.planFor(ctx.user))),

  /** This billing period's usage per kind, model and provider, most expensive first. */
  breakdown: authedProcedure.query(({ ctx }) => ctx.deps.usage.breakdown(ctx.user)),

  history: authedProcedure
    .input(ZCursorPage.optional())
    .query(({ ctx, input }) => ctx.deps.usage.history(ctx.user.id, { cursor: input?.cursor, limit: input?.limit ?? 50 })),

  /** The last `days` UTC days (default 30, at most 90), oldest first, every day present. */
  daily: authedProcedure.input(ZUsageDailyInput).query(({ ctx, input }) => ctx.deps.usage.daily(ctx.user.id, input?.days ?? 30)),
});
