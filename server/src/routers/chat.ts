import {
  ZChatEditInput,
  ZChatRegenerateInput,
  ZChatSendInput,
  ZConversationIdInput,
  ZCursorPage,
  ZMessagesInput,
  ZRenameConversationInput,
  ZSearchConversationsInput,
  ZSelectVersionInput,
} from '@chatmeter/shared/chat';
import { startGuest } from '../auth/request-auth.ts';
import type { SessionUser } from '../auth/session.ts';
import { AppError, isAppError } from '../lib/app-error.ts';
import { StaleSessionError } from '../metering/meter.ts';
import type { Context } from '../trpc/context.ts';
import { authedProcedure, publicProcedure, router } from '../trpc/init.ts';

/**
 * Runs a streamed chat for `user`. When the context read the user from the instance's session
 * cache (`ctx.recheck`), the chat passes the session on and its reservation checks it in the
 * database (Meter.reserveChat). A refusal (the session has ended or the user changed, or any
 * refusal before the reservation, which may rest on the cached answer) reads the session again:
 * none opens, unauthenticated; the user changed, the chat runs again with the fresh user;
 * otherwise the refusal stands.
 */
async function withSessionChecked<T>(ctx: Context, user: SessionUser, run: (user: SessionUser, session: string | undefined) => Promise<T>): Promise<T> {
  const recheck = ctx.recheck;
  if (!recheck || !ctx.session) return run(user, undefined);
  try {
    return await run(user, ctx.session.id);
  } catch (error) {
    const stale = error instanceof StaleSessionError;
    if (!stale && !isAppError(error)) throw error;
    const fresh = await recheck();
    if (!fresh) throw new AppError('unauthenticated', 'Please sign in first.');
    if (!stale && sameChecks(fresh.user, user)) throw error;
    return run(fresh.user, undefined);
  }
}

/** The facts a streamed chat is checked on (the reservation's session expectation, and the block). */
function sameChecks(a: SessionUser, b: SessionUser): boolean {
  return (
    a.id === b.id &&
    a.planId === b.planId &&
    a.isGuest === b.isGuest &&
    (a.emailVerifiedAt === null) === (b.emailVerifiedAt === null) &&
    (a.blockedAt === null) === (b.blockedAt === null) &&
    (a.subscribed ?? false) === (b.subscribed ?? false)
  );
}

export const chatRouter = router({
  /**
   * What the model picker offers: the plan's models (or the demo model offline), each with
   * its provider and prices. `provider` is the only provider's label ("N providers" with several).
   */
  models: publicProcedure.query(({ ctx }) => {
    const plan = ctx.user ? ctx.deps.planResolver.planFor(ctx.user) : ctx.deps.planResolver.guestPlan;
    const items = ctx.deps.chat.modelItemsFor(plan);
    return { models: items.map((i) => i.model), items, demo: ctx.deps.chat.isDemo, provider: ctx.deps.providers.label };
  }),

  /** Streams `start`, `delta`s and `done`; a visitor without a session gets a guest session first. */
  send: publicProcedure.input(ZChatSendInput).mutation(async ({ ctx, input, signal }) => {
    let user = ctx.user;
    if (!user) {
      if (ctx.guestError) throw ctx.guestError;
      // Callers that are not a browser stream (e.g. createCaller in tests) get the guest here.
      const signedIn = await startGuest(ctx.deps, input.captcha, { ip: ctx.meta.ip, userAgent: ctx.meta.userAgent });
      ctx.cookies.setSession(signedIn.token, signedIn.expiresAt);
      user = signedIn.user;
    }
    // Resolves after the reservation, before the response starts: the cookie and any refusal go out as headers.
    if (user !== ctx.user) return ctx.deps.chat.send(user, input, { ip: ctx.meta.ip, requestId: ctx.meta.requestId, signal });
    return withSessionChecked(ctx, user, (u, session) => ctx.deps.chat.send(u, input, { ip: ctx.meta.ip, requestId: ctx.meta.requestId, signal, session }));
  }),

  /**
   * Another reply to the message the reply `messageId` answered, kept beside it as a version; streams
   * and is metered like `send`; `speak` reads it aloud as it streams, as `send`.
   */
  regenerate: authedProcedure
    .input(ZChatRegenerateInput)
    .mutation(({ ctx, input, signal }) =>
      withSessionChecked(ctx, ctx.user, (user, session) =>
        ctx.deps.chat.regenerate(
          user,
          { messageId: input.messageId, model: input.model, speak: input.speak },
          { ip: ctx.meta.ip, requestId: ctx.meta.requestId, signal, session },
        ),
      ),
    ),

  /** A new version of the caller's message `messageId` with `content`, and a reply to it; streams and is metered like `send`. */
  edit: authedProcedure
    .input(ZChatEditInput)
    .mutation(({ ctx, input, signal }) =>
      withSessionChecked(ctx, ctx.user, (user, session) =>
        ctx.deps.chat.edit(
          user,
          { messageId: input.messageId, content: input.content, model: input.model, speak: input.speak },
          { ip: ctx.meta.ip, requestId: ctx.meta.requestId, signal, session },
        ),
      ),
    ),

  /** Shows the version `messageId` (and the newest messages of its branch) from now on. */
  selectVersion: authedProcedure.input(ZSelectVersionInput).mutation(({ ctx, input }) => ctx.deps.conversations.selectVersion(ctx.user.id, input.messageId)),

  conversations: authedProcedure
    .input(ZCursorPage.optional())
    .query(({ ctx, input }) => ctx.deps.conversations.list(ctx.user.id, { cursor: input?.cursor, limit: input?.limit ?? 50 })),

  /** Newest first; pass nextCursor to read older messages. Replies carry the usage they were metered for. */
  messages: authedProcedure
    .input(ZMessagesInput)
    .query(({ ctx, input }) =>
      ctx.deps.conversations.messages(ctx.user.id, { conversationId: input.conversationId, limit: input.limit, cursor: input.cursor }),
    ),

  /** Hides the conversation and deletes its spoken audio; usage already metered stays metered (no quota is given back). */
  deleteConversation: authedProcedure.input(ZConversationIdInput).mutation(async ({ ctx, input }) => {
    await ctx.deps.conversations.delete(ctx.user.id, input.conversationId);
    return { ok: true as const };
  }),

  /** A new title for one of the caller's conversations (not_found for anyone else's or a deleted one). */
  renameConversation: authedProcedure.input(ZRenameConversationInput).mutation(({ ctx, input }) => ctx.deps.conversations.rename(ctx.user.id, input)),

  /** Full-text search over the caller's messages, newest first; snippets mark matches with SNIPPET_MATCH_START/END. */
  searchConversations: authedProcedure
    .meta({ rateLimit: 'search' })
    .input(ZSearchConversationsInput)
    .query(({ ctx, input }) => ctx.deps.conversations.search(ctx.user.id, input)),
});
