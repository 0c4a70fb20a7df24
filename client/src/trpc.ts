// The one tRPC client. Only the router's *type* comes from the server (erased at
// build time), so no server code reaches the bundle.
import { createTRPCClient, httpBatchLink, httpBatchStreamLink, splitLink, type Operation } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '../../server/src/routers/_app.ts';

export type { AppRouter };

/** Procedures that answer with a stream (an async iterable), read with httpBatchStreamLink. */
const STREAMING_PATHS = new Set(['chat.send', 'chat.regenerate', 'chat.edit']);

/**
 * Streaming responses send their headers before the procedure runs, so a procedure
 * behind the stream link cannot set a cookie. Everything else (sign-in included)
 * goes through the plain batch link; a call can opt in with `context: { stream: true }`.
 */
export function isStreamingOperation(op: Pick<Operation, 'path' | 'context'>): boolean {
  return op.context.stream === true || STREAMING_PATHS.has(op.path);
}

const url = '/trpc';
const sameOriginFetch: typeof fetch = (input, init) => fetch(input, { ...init, credentials: 'include' });

export const trpc = createTRPCClient<AppRouter>({
  links: [
    splitLink({
      condition: isStreamingOperation,
      true: httpBatchStreamLink({ url, transformer: superjson, fetch: sameOriginFetch }),
      false: httpBatchLink({ url, transformer: superjson, fetch: sameOriginFetch, maxURLLength: 2000 }),
    }),
  ],
});
