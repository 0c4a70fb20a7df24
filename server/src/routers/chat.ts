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
import { authedProcedure, publicProcedure, router } from '../trpc/init.ts';

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
    return ctx.deps.chat.send(user, input, { ip: ctx.meta.ip, requestId: ctx.meta.requestId, signal });
  }),

  /**
   * Another reply to the message the reply `messageId` answered, kept beside it as a version; streams
   * and is metered like `send`; `speak` reads it aloud as it streams, as `send`.
   */
  regenerate: authedProcedure
    .input(ZChatRegenerateInput)
    .mutation(({ ctx, input, signal }) =>
      ctx.deps.chat.regenerate(
        ctx.user,
        { messageId: input.messageId, model: input.model, speak: input.speak },
        { ip: ctx.meta.ip, requestId: ctx.meta.requestId, signal },
      ),
    ),

  /** A new version of the caller's message `messageId` with `content`, and a reply to it; streams and is metered like `send`. */
  edit: authedProcedure
    .input(ZChatEditInput)
    .mutation(({ ctx, input, signal }) =>
      ctx.deps.chat.edit(
        ctx.user,
        { messageId: input.messageId, content: input.content, model: input.model, speak: input.speak },
        { ip: ctx.meta.ip, requestId: ctx.meta.requestId, signal },
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
