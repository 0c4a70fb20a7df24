// The chat's reads: conversations (infinite, newest first), one conversation's
// messages (infinite, newest first: older pages as the list scrolls up), and
// the models the plan offers.
import { useInfiniteQuery, useQuery, type InfiniteData, type QueryClient } from '@tanstack/react-query';
import { trpc } from '../../trpc.ts';

export const conversationsQueryKey = ['chat', 'conversations'] as const;
export const messagesQueryKey = (conversationId: string) => ['chat', 'messages', conversationId] as const;

export type ConversationPage = Awaited<ReturnType<typeof trpc.chat.conversations.query>>;
export type Conversation = ConversationPage['items'][number];
export type MessagePage = Awaited<ReturnType<typeof trpc.chat.messages.query>>;
export type ChatModels = Awaited<ReturnType<typeof trpc.chat.models.query>>;

export function useConversations(enabled: boolean) {
  return useInfiniteQuery({
    queryKey: conversationsQueryKey,
    queryFn: ({ pageParam }) => trpc.chat.conversations.query(pageParam ? { cursor: pageParam } : undefined),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    enabled,
  });
}

export function useMessages(conversationId: string | null) {
  return useInfiniteQuery({
    queryKey: messagesQueryKey(conversationId ?? ''),
    queryFn: ({ pageParam }) => trpc.chat.messages.query({ conversationId: conversationId!, ...(pageParam ? { cursor: pageParam } : {}) }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    enabled: conversationId !== null,
  });
}

/** A conversation this tab has just created has no messages on the server worth fetching yet. */
export function seedNewConversation(queryClient: QueryClient, conversationId: string): void {
  const key = messagesQueryKey(conversationId);
  if (queryClient.getQueryData(key)) return;
  queryClient.setQueryData<InfiniteData<MessagePage, string | null>>(key, { pages: [{ items: [], nextCursor: null }], pageParams: [null] });
}

/** The plan's models; a visitor sees the guest plan's. */
export function useModels(plan: string | null) {
  return useQuery({ queryKey: ['chat', 'models', plan ?? 'visitor'], queryFn: () => trpc.chat.models.query(), staleTime: 10 * 60_000 });
}

/** Drops a conversation from the cached list at once (the server already hid it). */
export function removeConversationFromCache(queryClient: QueryClient, conversationId: string): void {
  queryClient.setQueryData<InfiniteData<ConversationPage, string | null>>(conversationsQueryKey, (data) =>
    data ? { ...data, pages: data.pages.map((page) => ({ ...page, items: page.items.filter((c) => c.id !== conversationId) })) } : data,
  );
  // Its messages go too, unless the page still shows them (it is leaving; they expire on their own).
  const messages = queryClient.getQueryCache().find({ queryKey: messagesQueryKey(conversationId), exact: true });
  if (messages && messages.getObserversCount() === 0) queryClient.removeQueries({ queryKey: messagesQueryKey(conversationId), exact: true });
}

/** Shows a new title at once in the cached list; search results are asked again. */
export function renameConversationInCache(queryClient: QueryClient, conversationId: string, title: string): void {
  queryClient.setQueryData<InfiniteData<ConversationPage, string | null>>(conversationsQueryKey, (data) =>
    data ? { ...data, pages: data.pages.map((page) => ({ ...page, items: page.items.map((c) => (c.id === conversationId ? { ...c, title } : c)) })) } : data,
  );
  void queryClient.invalidateQueries({ queryKey: ['chat', 'search'] });
}
