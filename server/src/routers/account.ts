import { ZDeleteAccountInput } from '@chatmeter/shared/admin';
import { authedProcedure, router } from '../trpc/init.ts';

/** The signed-in person's own data: export it, or delete the account. */
export const accountRouter = router({
  exportData: authedProcedure.query(({ ctx }) => ctx.deps.accountData.exportData(ctx.user.id)),

  deleteAccount: authedProcedure.input(ZDeleteAccountInput).mutation(async ({ ctx }) => {
    const summary = await ctx.deps.accountData.deleteAccount(ctx.user.id, { id: ctx.user.id, role: ctx.user.role, requestId: ctx.meta.requestId });
    ctx.cookies.clearSession();
    return { ok: true as const, ...summary };
  }),
});
