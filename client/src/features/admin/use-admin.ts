// Queries and mutations of the Admin tab. Every change invalidates the whole
// ['admin'] tree: the overview, the user, the audit log all move together.
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { TAdjustCreditsInput, TAuditAction, TSetRoleInput, TUpdateSettingsInput } from '@chatmeter/shared/admin';
import { trpc } from '../../trpc.ts';

export const adminQueryKey = ['admin'] as const;

export type Overview = Awaited<ReturnType<typeof trpc.admin.overview.query>>;
export type OverviewDays = Overview['days'];
export type Totals = Overview['totals']['today'];
export type AdminUserRow = Awaited<ReturnType<typeof trpc.admin.users.query>>['items'][number];
export type AdminUserDetail = Awaited<ReturnType<typeof trpc.admin.user.query>>;
export type AdminSettings = Awaited<ReturnType<typeof trpc.admin.settings.query>>;
export type AuditEntry = Awaited<ReturnType<typeof trpc.admin.auditLog.query>>['items'][number];
export type PlanEconomicsRow = Awaited<ReturnType<typeof trpc.admin.planEconomics.query>>['plans'][number];
export type Reconciliation = Awaited<ReturnType<typeof trpc.admin.reconciliation.query>>;

export function useOverview(days: OverviewDays) {
  return useQuery({
    queryKey: [...adminQueryKey, 'overview', days],
    queryFn: () => trpc.admin.overview.query({ days }),
    placeholderData: keepPreviousData,
    refetchInterval: 60_000,
  });
}

export function useReconciliation(days: number) {
  return useQuery({
    queryKey: [...adminQueryKey, 'reconciliation', days],
    queryFn: () => trpc.admin.reconciliation.query({ days }),
    placeholderData: keepPreviousData,
    // The figures change once a day.
    staleTime: 5 * 60_000,
  });
}

export function useAdminUsers(query: string) {
  return useInfiniteQuery({
    queryKey: [...adminQueryKey, 'users', query],
    queryFn: ({ pageParam }) => trpc.admin.users.query({ limit: 25, ...(query ? { query } : {}), ...(pageParam ? { cursor: pageParam } : {}) }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    placeholderData: keepPreviousData,
  });
}

export function useAdminUser(userId: string) {
  return useQuery({ queryKey: [...adminQueryKey, 'user', userId], queryFn: () => trpc.admin.user.query({ userId }) });
}

export function useAdminSettings() {
  return useQuery({ queryKey: [...adminQueryKey, 'settings'], queryFn: () => trpc.admin.settings.query() });
}

/** Admins only (support is refused): the paid plans' worst cases, fixed until a restart. */
export function usePlanEconomics(enabled: boolean) {
  return useQuery({ queryKey: [...adminQueryKey, 'planEconomics'], queryFn: () => trpc.admin.planEconomics.query(), enabled, staleTime: 60 * 60_000 });
}

export interface AuditFilters {
  action?: TAuditAction | undefined;
  actorId?: string | undefined;
  targetUserId?: string | undefined;
}

export function useAuditLog(filters: AuditFilters) {
  return useInfiniteQuery({
    queryKey: [...adminQueryKey, 'audit', filters],
    queryFn: ({ pageParam }) =>
      trpc.admin.auditLog.query({
        limit: 30,
        ...(filters.action ? { action: filters.action } : {}),
        ...(filters.actorId ? { actorId: filters.actorId } : {}),
        ...(filters.targetUserId ? { targetUserId: filters.targetUserId } : {}),
        ...(pageParam ? { cursor: pageParam } : {}),
      }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
  });
}

function useAdminMutation<I, O>(fn: (input: I) => Promise<O>) {
  const queryClient = useQueryClient();
  return useMutation({ mutationFn: fn, onSuccess: () => queryClient.invalidateQueries({ queryKey: adminQueryKey }) });
}

export const useAdjustCredits = () => useAdminMutation((input: TAdjustCreditsInput) => trpc.admin.adjustCredits.mutate(input));
export const useSetPlan = () => useAdminMutation((input: { userId: string; plan: string }) => trpc.admin.setPlan.mutate(input));
export const useSetRole = () => useAdminMutation((input: TSetRoleInput) => trpc.admin.setRole.mutate(input));
export const useSetBlocked = () => useAdminMutation((input: { userId: string; blocked: boolean }) => trpc.admin.setBlocked.mutate(input));
export const useUpdateSettings = () => useAdminMutation((input: TUpdateSettingsInput) => trpc.admin.updateSettings.mutate(input));
export const useDeleteUser = () => useAdminMutation((userId: string) => trpc.admin.deleteUser.mutate({ userId, confirm: true }));
export const useExportUser = () => useAdminMutation((userId: string) => trpc.admin.exportUser.mutate({ userId }));

/** Saves JSON as a file through a temporary blob link. */
export function downloadJson(filename: string, data: unknown): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
