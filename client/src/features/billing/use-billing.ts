import { useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import type { TCheckoutInput, TSimulateInput } from '@chatmeter/shared/billing';
import { meQueryKey } from '../auth/use-me.ts';
import { trpc } from '../../trpc.ts';

export const billingQueryKey = ['billing'] as const;
export const billingStatusQueryKey = ['billing', 'status'] as const;
export const packsQueryKey = ['billing', 'packs'] as const;

export type BillingStatus = Awaited<ReturnType<typeof trpc.billing.status.query>>;
export type CreditPack = Awaited<ReturnType<typeof trpc.billing.packs.query>>[number];

/** While `poll` (back from Stripe, waiting for its webhook) it refetches every 2 s. */
export function useBillingStatus(poll = false) {
  return useQuery({
    queryKey: billingStatusQueryKey,
    queryFn: () => trpc.billing.status.query(),
    staleTime: 10_000,
    refetchInterval: poll ? 2_000 : false,
  });
}

export function usePacks() {
  return useQuery({ queryKey: packsQueryKey, queryFn: () => trpc.billing.packs.query(), staleTime: 60 * 60_000 });
}

export function useSimulatedCheckout(sessionId: string | null) {
  return useQuery({
    queryKey: ['billing', 'simulated-checkout', sessionId],
    queryFn: () => trpc.billing.simulatedCheckout.query({ sessionId: sessionId! }),
    enabled: sessionId !== null,
    staleTime: Infinity,
  });
}

/** A plan or pack changed: who we are (the plan), billing and usage all read differently now. */
export async function refreshAfterBilling(queryClient: QueryClient): Promise<void> {
  await Promise.all([
    queryClient.invalidateQueries({ queryKey: meQueryKey, exact: true }),
    queryClient.invalidateQueries({ queryKey: billingQueryKey }),
    queryClient.invalidateQueries({ queryKey: ['usage'] }),
  ]);
}

/** Stripe's pages are another site: leave the app for them (or for the simulator's page). */
function go(url: string): void {
  window.location.assign(url);
}

export function useCheckout() {
  return useMutation({
    mutationFn: (input: TCheckoutInput) => trpc.billing.checkout.mutate(input),
    onSuccess: ({ url }) => go(url),
  });
}

export function usePortal() {
  return useMutation({
    mutationFn: () => trpc.billing.portal.mutate(),
    onSuccess: ({ url }) => go(url),
  });
}

export function useSimulate() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: TSimulateInput) => trpc.billing.simulate.mutate(input),
    onSuccess: async () => {
      await refreshAfterBilling(queryClient);
    },
  });
}
