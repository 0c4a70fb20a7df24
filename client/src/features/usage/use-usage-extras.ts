import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { TPreferencesUpdate } from '@chatmeter/shared/preferences';
import { trpc } from '../../trpc.ts';

// Under 'usage' so refreshUsage (after every metered action) refreshes the chart too.
export const usageDailyQueryKey = (days: number) => ['usage', 'daily', days] as const;
export const preferencesQueryKey = ['preferences'] as const;

export function useUsageDaily(days = 30) {
  return useQuery({ queryKey: usageDailyQueryKey(days), queryFn: () => trpc.usage.daily.query({ days }), staleTime: 60_000 });
}

export function usePreferences() {
  return useQuery({ queryKey: preferencesQueryKey, queryFn: () => trpc.preferences.get.query(), staleTime: 5 * 60_000 });
}

export function useUpdatePreferences() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: TPreferencesUpdate) => trpc.preferences.update.mutate(input),
    onSuccess: (saved) => queryClient.setQueryData(preferencesQueryKey, saved),
  });
}
