// The sidebar's search: chat.searchConversations as the user types (debounced),
// each hit a link to its conversation with the matched words highlighted. The
// snippet's match markers are split into text parts and rendered as React text
// in <mark>: nothing from a message is ever parsed as HTML.
import { keepPreviousData, useInfiniteQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link } from 'react-router';
import { SEARCH_QUERY_MAX, splitSnippet } from '@chatmeter/shared/chat';
import { ErrorAlert } from '../../components/alerts.tsx';
import { InfiniteSentinel } from '../../components/infinite-sentinel.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { formatDateTime, formatRelativeTime } from '../../lib/format.ts';
import { trpc } from '../../trpc.ts';
import './conversation-tools.css';

export const searchQueryKey = (query: string) => ['chat', 'search', query] as const;

const DEBOUNCE_MS = 250;

export function useDebounced<T>(value: T, ms = DEBOUNCE_MS): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

export function ConversationSearchBox({ value, onChange, disabled }: { value: string; onChange(value: string): void; disabled: boolean }) {
  return (
    <div className="conv-search" role="search">
      <svg className="conv-search__icon" viewBox="0 0 20 20" width="16" height="16" aria-hidden="true">
        <circle cx="8.5" cy="8.5" r="5.25" fill="none" stroke="currentColor" strokeWidth="1.8" />
        <path d="m12.5 12.5 4 4" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
      </svg>
      <input
        type="search"
        className="conv-search__input"
        placeholder={disabled ? 'Search (after your first message)' : 'Search conversations'}
        aria-label="Search conversations"
        value={value}
        maxLength={SEARCH_QUERY_MAX}
        disabled={disabled}
        onChange={(event) => onChange(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === 'Escape' && value) {
            event.stopPropagation();
            onChange('');
          }
        }}
      />
    </div>
  );
}

export function ConversationSearchResults({ query, selectedId, onOpen }: { query: string; selectedId: string | null; onOpen(): void }) {
  const settled = useDebounced(query.trim());
  const search = useInfiniteQuery({
    queryKey: searchQueryKey(settled),
    queryFn: ({ pageParam }) => trpc.chat.searchConversations.query({ query: settled, ...(pageParam ? { cursor: pageParam } : {}) }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    enabled: settled.length > 0,
    staleTime: 30_000,
    // The previous results stay while the next words are looked up (no spinner flicker while typing).
    placeholderData: keepPreviousData,
  });
  const items = search.data?.pages.flatMap((page) => page.items) ?? [];
  const now = new Date();

  if (!settled || search.isPending) {
    return (
      <div className="conv-empty">
        <Spinner label="Searching…" />
      </div>
    );
  }
  if (search.isError) {
    return (
      <div className="conv-empty">
        <ErrorAlert>{readApiError(search.error).message}</ErrorAlert>
      </div>
    );
  }
  const loadMore = () => {
    if (search.hasNextPage && !search.isFetchingNextPage) void search.fetchNextPage();
  };
  return (
    <>
      <p className="visually-hidden" role="status">
        {items.length === 0 ? 'No conversations match.' : `${items.length}${search.hasNextPage ? ' or more' : ''} conversations match.`}
      </p>
      {items.length === 0 ? (
        <p className="conv-empty">Nothing matches “{settled}”. Try other words.</p>
      ) : (
        <ul className="conv-list" aria-label="Search results">
          {items.map((hit) => {
            const active = hit.conversationId === selectedId;
            return (
              <li key={hit.conversationId} className={`conv conv-hit${active ? ' conv--active' : ''}`}>
                <Link
                  to={{ pathname: '/', search: `?c=${hit.conversationId}` }}
                  className="conv__open"
                  aria-current={active ? 'page' : undefined}
                  onClick={onOpen}
                >
                  <span className="conv__title">{hit.title || 'Untitled conversation'}</span>
                  <span className="conv-hit__snippet">
                    {/* biome-ignore lint/suspicious/noArrayIndexKey: a snippet's parts are made once from one string and never reorder. */}
                    {splitSnippet(hit.snippet).map((part, index) => (part.match ? <mark key={index}>{part.text}</mark> : <span key={index}>{part.text}</span>))}
                  </span>
                  <span className="conv__meta">
                    <time dateTime={hit.createdAt.toISOString()} title={formatDateTime(hit.createdAt)}>
                      {formatRelativeTime(hit.createdAt, now)}
                    </time>
                  </span>
                </Link>
              </li>
            );
          })}
        </ul>
      )}
      {search.hasNextPage ? (
        <div className="conv-more">
          <InfiniteSentinel onVisible={loadMore} disabled={search.isFetchingNextPage} />
          <button type="button" className="btn btn--ghost btn--small" onClick={loadMore} disabled={search.isFetchingNextPage}>
            {search.isFetchingNextPage ? 'Loading…' : 'More results'}
          </button>
        </div>
      ) : null}
    </>
  );
}
