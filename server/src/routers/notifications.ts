import { ZNotificationsListInput, ZNotificationsMarkReadInput } from '@chatmeter/shared/notifications';
import { authedProcedure, router } from '../trpc/init.ts';

export const notificationsRouter = router({
  /** Newest first: `{ items: [{ id, kind, threshold, periodKey, title, body, readAt, createdAt }], nextCursor }`. */
  list: authedProcedure
    .input(ZNotificationsListInput)
    .query(({ ctx, input }) => ctx.deps.notifications.list(ctx.user.id, { cursor: input?.cursor, limit: input?.limit ?? 20 })),

  unreadCount: authedProcedure.query(({ ctx }) => ctx.deps.notifications.unreadCount(ctx.user.id)),

  markRead: authedProcedure.input(ZNotificationsMarkReadInput).mutation(({ ctx, input }) => ctx.deps.notifications.markRead(ctx.user.id, input)),
});
