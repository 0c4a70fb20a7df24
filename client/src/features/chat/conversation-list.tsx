import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { CONVERSATION_TITLE_MAX, ZRenameConversationInput } from '@chatmeter/shared/chat';
import { Link } from 'react-router';
import { ErrorAlert } from '../../components/alerts.tsx';
import { InfiniteSentinel } from '../../components/infinite-sentinel.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { formatDateTime, formatRelativeTime } from '../../lib/format.ts';
import { trpc } from '../../trpc.ts';
import { removeConversationFromCache, renameConversationInCache, useConversations, type Conversation } from './chat-queries.ts';
import './conversation-tools.css';
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
          <ConversationItem
            key={conversation.id}
            conversation={conversation}
            active={conversation.id === selectedId}
            now={now}
            onOpen={onOpen}
            onDeleted={onDeleted}
          />
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
  const [renaming, setRenaming] = useState(false);
  const title = conversation.title || 'Untitled conversation';
  const messages = conversation.messageCount === 1 ? '1 message' : `${conversation.messageCount} messages`;
  if (renaming) {
    return (
      <li className={`conv${active ? ' conv--active' : ''}`}>
        <RenameForm conversation={conversation} onDone={() => setRenaming(false)} />
      </li>
    );
  }
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
          className="icon-btn conv__rename"
          aria-label={`Rename conversation: ${title}`}
          onClick={() => {
            setConfirming(false);
            setRenaming(true);
          }}
        >
          <svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true">
            <path
              fill="currentColor"
              d="M13.6 2.9a1.9 1.9 0 0 1 2.7 0l.8.8a1.9 1.9 0 0 1 0 2.7l-9.2 9.2a1 1 0 0 1-.5.3l-3.4.9a.6.6 0 0 1-.7-.7l.9-3.4a1 1 0 0 1 .3-.5Zm1.6 1.1a.4.4 0 0 0-.5 0l-1.1 1.1 1.3 1.3L16 5.3a.4.4 0 0 0 0-.5ZM13 7.5l-1.3-1.3-6.6 6.6-.5 1.8 1.8-.5Z"
            />
          </svg>
        </button>
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

/** The title in an input: Enter or Save keeps it, Escape or Cancel leaves it as it was. */
function RenameForm({ conversation, onDone }: { conversation: Conversation; onDone(): void }) {
  const queryClient = useQueryClient();
  const [value, setValue] = useState(conversation.title);
  const [problem, setProblem] = useState<string | null>(null);
  const rename = useMutation({
    mutationFn: (title: string) => trpc.chat.renameConversation.mutate({ conversationId: conversation.id, title }),
    onSuccess: (saved) => {
      renameConversationInCache(queryClient, saved.id, saved.title);
      onDone();
    },
    onError: (error) => setProblem(readApiError(error).message),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const parsed = ZRenameConversationInput.safeParse({ conversationId: conversation.id, title: value });
    if (!parsed.success) {
      setProblem(parsed.error.issues[0]?.message ?? 'That title cannot be used.');
      return;
    }
    if (parsed.data.title === conversation.title) return onDone();
    rename.mutate(parsed.data.title);
  };
  const errorId = `rename-error-${conversation.id}`;
  return (
    <form className="conv-rename" onSubmit={submit} aria-label="Rename conversation">
      <input
        className="conv-rename__input"
        aria-label="Conversation title"
        value={value}
        maxLength={CONVERSATION_TITLE_MAX}
        autoFocus
        onFocus={(event) => event.currentTarget.select()}
        disabled={rename.isPending}
        aria-invalid={problem ? true : undefined}
        aria-describedby={problem ? errorId : undefined}
        onChange={(event) => {
          setValue(event.target.value);
          setProblem(null);
        }}
        onKeyDown={(event) => {
          if (event.key === 'Escape') {
            event.stopPropagation();
            onDone();
          }
        }}
      />
      {problem ? (
        <p id={errorId} className="conv__error conv-rename__error" role="alert">
          {problem}
        </p>
      ) : null}
      <div className="confirm__actions">
        <button type="submit" className="btn btn--primary btn--small" disabled={rename.isPending}>
          {rename.isPending ? 'Saving…' : 'Save'}
        </button>
        <button type="button" className="btn btn--ghost btn--small" onClick={onDone} disabled={rename.isPending}>
          Cancel
        </button>
      </div>
    </form>
  );
}
