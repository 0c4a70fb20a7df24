import { TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { meQueryKey } from '../features/auth/use-me.ts';
import { createQueryClient, shouldRetry } from './query-client.ts';

describe('shouldRetry', () => {
  it('retries a request that got no answer, twice at most', () => {
    const offline = TRPCClientError.from(new TypeError('Failed to fetch'));
    expect(shouldRetry(0, offline)).toBe(true);
    expect(shouldRetry(1, offline)).toBe(true);
    expect(shouldRetry(2, offline)).toBe(false);
  });

  it('never repeats a refusal from the server', () => {
    const refused = TRPCClientError.from({ error: { message: 'Please sign in first.', code: -32001, data: { reason: 'unauthenticated' } } });
    expect(shouldRetry(0, refused)).toBe(false);
  });
});

describe('createQueryClient', () => {
  const refused = () => TRPCClientError.from({ error: { message: 'Please sign in first.', code: -32001, data: { reason: 'unauthenticated' } } });
  const me = { id: 'u1', email: 'ada@example.com', role: 'user' as const, plan: 'free', isGuest: false };

  it('asks who we are again when a call finds the session gone', async () => {
    const client = createQueryClient();
    client.setQueryData(meQueryKey, me);
    await client.fetchQuery({ queryKey: ['usage', 'summary'], queryFn: () => Promise.reject(refused()) }).catch(() => {});
    expect(client.getQueryState(meQueryKey)?.isInvalidated).toBe(true);
  });

  it('leaves a visitor without a session alone (a failed sign-in is no news)', async () => {
    const client = createQueryClient();
    client.setQueryData(meQueryKey, null);
    await client
      .getMutationCache()
      .build(client, { mutationFn: () => Promise.reject(refused()) })
      .execute(undefined)
      .catch(() => {});
    expect(client.getQueryState(meQueryKey)?.isInvalidated).toBe(false);
  });
});
