import { ZUsageDailyInput } from '@chatmeter/shared/alerts';
import { ZCursorPage } from '@chatmeter/shared/chat';
import { authedProcedure, router } from '../trpc/init.ts';
import { usageDaily } from '../usage/usage-daily.ts';
import { toUsageItem, usageEventSelect } from '../usage/usage-ledger.ts';
import { decodeCursor, encodeCursor, INT_ID } from '../lib/cursor.ts';

export const usageRouter = router({
  summary: authedProcedure.query(({ ctx }) => ctx.deps.usage.summary(ctx.user, ctx.deps.planResolver.planFor(ctx.user))),

  /** This billing period's usage per kind, model and provider, most expensive first. */
  breakdown: authedProcedure.query(({ ctx }) => ctx.deps.usage.breakdown(ctx.user)),

  history: authedProcedure.input(ZCursorPage.optional()).query(async ({ ctx, input }) => {
    const limit = input?.limit ?? 50;
    const cursor = decodeCursor(input?.cursor, INT_ID);
    const rows = await ctx.deps.prisma.usageEvent.findMany({
      where: { userId: ctx.user.id, ...(cursor ? { id: { lt: BigInt(cursor.id) } } : {}) },
      orderBy: { id: 'desc' },
      take: limit + 1,
      select: usageEventSelect,
    });
    const items = rows.slice(0, limit).map(toUsageItem);
    const last = rows[limit - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null };
  }),

  /** The last `days` UTC days (default 30, at most 90), oldest first, every day present. */
  daily: authedProcedure.input(ZUsageDailyInput).query(({ ctx, input }) => usageDaily(ctx.deps.prisma, ctx.user.id, input?.days ?? 30)),
});
