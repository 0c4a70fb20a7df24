import { ZNotificationsListInput, ZNotificationsMarkReadInput } from '@chatmeter/shared/notifications';
import { authedProcedure, router } from '../trpc/init.ts';
import { decodeCursor, encodeCursor, INT_ID } from '../lib/cursor.ts';

export const notificationsRouter = router({
  /** Newest first: `{ items: [{ id, kind, threshold, periodKey, title, body, readAt, createdAt }], nextCursor }`. */
  list: authedProcedure.input(ZNotificationsListInput).query(async ({ ctx, input }) => {
    const limit = input?.limit ?? 20;
    const cursor = decodeCursor(input?.cursor, INT_ID);
    const rows = await ctx.deps.notifications.list(ctx.user.id, { beforeId: cursor ? BigInt(cursor.id) : undefined, take: limit + 1 });
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null };
  }),

  unreadCount: authedProcedure.query(({ ctx }) => ctx.deps.notifications.unreadCount(ctx.user.id)),

  markRead: authedProcedure.input(ZNotificationsMarkReadInput).mutation(({ ctx, input }) => ctx.deps.notifications.markRead(ctx.user.id, input)),
});
