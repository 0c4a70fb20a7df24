import { useQuery } from '@tanstack/react-query';
import { trpc } from '../../trpc.ts';

export const plansQueryKey = ['plans', 'list'] as const;

/** The operator's plan table (built-in or PLANS_FILE); it changes only on a restart. */
export function usePlans() {
  return useQuery({ queryKey: plansQueryKey, queryFn: () => trpc.plans.list.query(), staleTime: 60 * 60_000 });
}

export type Plan = NonNullable<ReturnType<typeof usePlans>['data']>[number];

export function planName(plans: readonly Plan[] | undefined, planId: string): string {
  return plans?.find((plan) => plan.id === planId)?.name ?? planId.charAt(0).toUpperCase() + planId.slice(1);
}
