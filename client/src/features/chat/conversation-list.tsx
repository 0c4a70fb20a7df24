import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { ErrorAlert } from '../../components/alerts.tsx';
import { InfiniteSentinel } from '../../components/infinite-sentinel.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { formatDateTime, formatRelativeTime } from '../../lib/format.ts';
import { trpc } from '../../trpc.ts';
import { removeConversationFromCache, useConversations, type Conversation } from './chat-queries.ts';
import { chatStore } from './chat-store.ts';

interface ConversationListProps {
  /** No session yet: nothing to list. */
  enabled: boolean;
  selectedId: string | null;
  onOpen(): void;
  onDeleted(conversationId: string): void;
}

export function ConversationList({ enabled, selectedId, onOpen, onDeleted }: ConversationListProps) {
  const conversations = useConversations(enabled);
  const items = conversations.data?.pages.flatMap((page) => page.items) ?? [];
  const now = new Date();

  if (!enabled) {
    return <p className="conv-empty">Your conversations will be listed here once you send your first message.</p>;
  }
  if (conversations.isPending) {
    return (
      <div className="conv-empty">
        <Spinner label="Loading conversations…" />
      </div>
    );
  }
  if (conversations.isError) {
    return (
      <div className="conv-empty">
        <ErrorAlert>{readApiError(conversations.error).message}</ErrorAlert>
        <button type="button" className="btn btn--ghost btn--small" onClick={() => void conversations.refetch()}>
          Try again
        </button>
      </div>
    );
  }
  if (items.length === 0) {
    return <p className="conv-empty">No conversations yet. Your first message starts one.</p>;
  }
  const loadMore = () => {
    if (conversations.hasNextPage && !conversations.isFetchingNextPage) void conversations.fetchNextPage();
  };
  return (
    <>
      <ul className="conv-list" aria-label="Conversations">
        {items.map((conversation) => (
          <ConversationItem key={conversation.id} conversation={conversation} active={conversation.id === selectedId} now={now} onOpen={onOpen} onDeleted={onDeleted} />
        ))}
      </ul>
      {conversations.hasNextPage ? (
        <div className="conv-more">
          <InfiniteSentinel onVisible={loadMore} disabled={conversations.isFetchingNextPage} />
          <button type="button" className="btn btn--ghost btn--small" onClick={loadMore} disabled={conversations.isFetchingNextPage}>
            {conversations.isFetchingNextPage ? 'Loading…' : 'Load more conversations'}
          </button>
        </div>
      ) : null}
    </>
  );
}

function ConversationItem({
  conversation,
  active,
  now,
  onOpen,
  onDeleted,
}: {
  conversation: Conversation;
  active: boolean;
  now: Date;
  onOpen(): void;
  onDeleted(conversationId: string): void;
}) {
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const remove = useMutation({
    mutationFn: () => trpc.chat.deleteConversation.mutate({ conversationId: conversation.id }),
    onSuccess: () => {
      removeConversationFromCache(queryClient, conversation.id);
      chatStore.forgetConversation(conversation.id);
      onDeleted(conversation.id);
    },
  });
  const title = conversation.title || 'Untitled conversation';
  const messages = conversation.messageCount === 1 ? '1 message' : `${conversation.messageCount} messages`;
  return (
    <li className={`conv${active ? ' conv--active' : ''}`}>
      <div className="conv__row">
        <Link to={{ pathname: '/', search: `?c=${conversation.id}` }} className="conv__open" aria-current={active ? 'page' : undefined} onClick={onOpen}>
          <span className="conv__title">{title}</span>
          <span className="conv__meta">
            <time dateTime={conversation.updatedAt.toISOString()} title={formatDateTime(conversation.updatedAt)}>
              {formatRelativeTime(conversation.updatedAt, now)}
            </time>
            {' · '}
            {messages}
          </span>
        </Link>
        <button
          type="button"
          className="icon-btn conv__delete"
          aria-label={`Delete conversation: ${title}`}
          aria-expanded={confirming}
          onClick={() => setConfirming((value) => !value)}
        >
          <svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true">
            <path
              fill="currentColor"
              d="M8 2.5h4a1 1 0 0 1 1 1V4h3.2a.8.8 0 0 1 0 1.6h-.7l-.8 10.1A2 2 0 0 1 12.7 17.5H7.3a2 2 0 0 1-2-1.8L4.5 5.6h-.7a.8.8 0 0 1 0-1.6H7v-.5a1 1 0 0 1 1-1Zm-1.9 3.1.8 9.9c0 .2.2.4.4.4h5.4c.2 0 .4-.2.4-.4l.8-9.9Zm2.1 1.9h1.5v6.5H8.2Zm2.6 0h1.5v6.5h-1.5Z"
            />
          </svg>
        </button>
      </div>
      {confirming ? (
        <div className="conv__confirm" role="group" aria-label={`Delete “${title}”?`}>
          <p>Delete this conversation? Usage already counted stays counted.</p>
          {remove.error ? <p className="conv__error">{readApiError(remove.error).message}</p> : null}
          <div className="confirm__actions">
            <button type="button" className="btn btn--danger btn--small" onClick={() => remove.mutate()} disabled={remove.isPending} autoFocus>
              {remove.isPending ? 'Deleting…' : 'Delete'}
            </button>
            <button type="button" className="btn btn--ghost btn--small" onClick={() => setConfirming(false)} disabled={remove.isPending}>
              Cancel
            </button>
          </div>
        </div>
      ) : null}
    </li>
  );
}
