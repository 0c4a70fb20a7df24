import { useQuery, useQueryClient, type QueryClient, type QueryKey } from '@tanstack/react-query';
import type { TMe } from '@chatmeter/shared/auth';
import { trpc } from '../../trpc.ts';

export const meQueryKey = ['auth', 'me'] as const;

export function isMeQueryKey(key: QueryKey): boolean {
  return key.length === 2 && key[0] === meQueryKey[0] && key[1] === meQueryKey[1];
}

export function useMe() {
  return useQuery({ queryKey: meQueryKey, queryFn: () => trpc.auth.me.query(), staleTime: 5 * 60_000 });
}

/** After any sign-in, sign-up or sign-out: drop everything cached for the previous user. */
export function setSignedInUser(queryClient: QueryClient, user: TMe | null): void {
  queryClient.removeQueries({ predicate: (query) => !isMeQueryKey(query.queryKey) });
  queryClient.setQueryData(meQueryKey, user);
}

export function useSetSignedInUser() {
  const queryClient = useQueryClient();
  return (user: TMe | null) => setSignedInUser(queryClient, user);
}
