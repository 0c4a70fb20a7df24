import { keepPreviousData, useQueries, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { TPlannerInput } from '@chatmeter/shared/planner';
import { trpc } from '../../trpc.ts';
import type { ColumnId } from './planner-math.ts';

export type PlannerEstimate = Awaited<ReturnType<typeof trpc.planner.estimate.query>>;

export function usePlannerModels() {
  return useQuery({ queryKey: ['planner', 'models'], queryFn: () => trpc.planner.models.query(), staleTime: 60 * 60_000 });
}

/** One plan's worst-case provider cost (it changes only when the server restarts with other plans or prices). */
export function useWorstCase(plan: string | undefined) {
  return useQuery({
    queryKey: ['planner', 'worstCase', plan],
    queryFn: () => trpc.planner.worstCase.query({ plan: plan! }),
    enabled: plan !== undefined,
    placeholderData: keepPreviousData,
    staleTime: 60 * 60_000,
  });
}

/** One planner.estimate per column (batched into one request); the last figures stay while new ones load. */
export function useEstimates(inputs: Record<ColumnId, TPlannerInput> | null, columns: readonly ColumnId[]) {
  return useQueries({
    queries: columns.map((id) => ({
      queryKey: ['planner', 'estimate', id, inputs?.[id] ?? null],
      queryFn: () => trpc.planner.estimate.query(inputs![id]),
      enabled: inputs !== null,
      placeholderData: keepPreviousData,
      staleTime: 60_000,
    })),
  });
}

/** The value once it has stopped changing for `ms` (typing in a number field). */
export function useDebounced<T>(value: T, ms = 300): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}
