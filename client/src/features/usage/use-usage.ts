import { useInfiniteQuery, useQuery, type QueryClient } from '@tanstack/react-query';
import { trpc } from '../../trpc.ts';

export const usageQueryKey = ['usage'] as const;
export const usageSummaryQueryKey = ['usage', 'summary'] as const;
export const usageHistoryQueryKey = ['usage', 'history'] as const;

export type UsageSummary = Awaited<ReturnType<typeof trpc.usage.summary.query>>;
export type UsageHistoryPage = Awaited<ReturnType<typeof trpc.usage.history.query>>;
export type UsageEvent = UsageHistoryPage['items'][number];

/** Needs a session (account or guest): pass `enabled: false` for a visitor. */
export function useUsageSummary(enabled = true) {
  return useQuery({ queryKey: usageSummaryQueryKey, queryFn: () => trpc.usage.summary.query(), enabled, staleTime: 15_000 });
}

export function useUsageHistory() {
  return useInfiniteQuery({
    queryKey: usageHistoryQueryKey,
    queryFn: ({ pageParam }) => trpc.usage.history.query({ limit: 20, ...(pageParam ? { cursor: pageParam } : {}) }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
  });
}

/** After a message (or anything else that is metered): the counters and the history changed. */
export function refreshUsage(queryClient: QueryClient): Promise<void> {
  return queryClient.invalidateQueries({ queryKey: usageQueryKey });
}
