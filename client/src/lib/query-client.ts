import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query';
import { isMeQueryKey, meQueryKey } from '../features/auth/use-me.ts';
import { errorReason } from './api-error.ts';

/** Only a request that never got an answer is worth repeating; the server's refusals are final. */
export function shouldRetry(failureCount: number, error: unknown): boolean {
  return errorReason(error) === 'network' && failureCount < 2;
}

export function createQueryClient(): QueryClient {
  // A call refused as `unauthenticated` means the session ended (expired, or signed
  // out elsewhere): ask the server who we are, and the route guard does the rest.
  // (Only with a session: a failed sign-in is `unauthenticated` too, and says nothing new.)
  const onError = (error: unknown) => {
    if (errorReason(error) === 'unauthenticated' && client.getQueryData(meQueryKey)) {
      void client.invalidateQueries({ queryKey: meQueryKey, exact: true });
    }
  };
  const client: QueryClient = new QueryClient({
    queryCache: new QueryCache({ onError: (error, query) => !isMeQueryKey(query.queryKey) && onError(error) }),
    mutationCache: new MutationCache({ onError }),
    defaultOptions: {
      queries: { retry: shouldRetry, staleTime: 30_000 },
      mutations: { retry: false },
    },
  });
  return client;
}
