import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { TNotificationsMarkReadInput } from '@chatmeter/shared/notifications';
import { trpc } from '../../trpc.ts';

// Under 'usage' on purpose: every metered action already refreshes ['usage'] (refreshUsage),
// and a threshold alert follows from exactly such an action.
export const notificationsQueryKey = ['usage', 'notifications'] as const;
const unreadKey = [...notificationsQueryKey, 'unread'] as const;
const listKey = [...notificationsQueryKey, 'list'] as const;

export type NotificationItem = Awaited<ReturnType<typeof trpc.notifications.list.query>>['items'][number];

export function useUnreadCount(enabled: boolean) {
  return useQuery({
    queryKey: unreadKey,
    queryFn: () => trpc.notifications.unreadCount.query(),
    enabled,
    // Alerts are written just after a message settles: look again now and then.
    refetchInterval: 60_000,
    staleTime: 10_000,
  });
}

export function useNotificationList(enabled: boolean) {
  return useQuery({ queryKey: listKey, queryFn: () => trpc.notifications.list.query({ limit: 20 }), enabled, staleTime: 0 });
}

export function useMarkRead() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: TNotificationsMarkReadInput) => trpc.notifications.markRead.mutate(input),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: notificationsQueryKey }),
  });
}
