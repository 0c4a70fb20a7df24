import { ZCursorPage } from '@chatmeter/shared/chat';
import { authedProcedure, router } from '../trpc/init.ts';
import { decodeCursor, encodeCursor, INT_ID } from './cursor.ts';

export const usageRouter = router({
  summary: authedProcedure.query(({ ctx }) => ctx.deps.usage.summary(ctx.user, ctx.deps.chat.planFor(ctx.user))),

  history: authedProcedure.input(ZCursorPage.optional()).query(async ({ ctx, input }) => {
    const limit = input?.limit ?? 50;
    const cursor = decodeCursor(input?.cursor, INT_ID);
    const rows = await ctx.deps.prisma.usageEvent.findMany({
      where: { userId: ctx.user.id, ...(cursor ? { id: { lt: BigInt(cursor.id) } } : {}) },
      orderBy: { id: 'desc' },
      take: limit + 1,
      select: {
        id: true, createdAt: true, kind: true, model: true, promptTokens: true, completionTokens: true,
        costMicroUsd: true, status: true, estimated: true, ttsChars: true, creditTokens: true,
      },
    });
    const items = rows.slice(0, limit).map((r) => ({ ...r, id: r.id.toString(), costMicroUsd: Number(r.costMicroUsd), creditTokens: Number(r.creditTokens) }));
    const last = rows[limit - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null };
  }),
});
