import { ZPreferencesUpdateInput } from '@chatmeter/shared/preferences';
import { authedProcedure, router } from '../trpc/init.ts';

export const preferencesRouter = router({
  /**
   * `{ alertEmails, theme, defaultModel, voice, autoPlay, monthlySpendLimitMicroUsd, clientPrefsSavedAt }`: the browser
   * applies them after sign-in (a guest's stay in its localStorage).
   */
  get: authedProcedure.query(({ ctx }) => ctx.deps.preferences.get(ctx.user.id)),

  /** Only the fields given change. */
  update: authedProcedure.input(ZPreferencesUpdateInput).mutation(({ ctx, input }) => ctx.deps.preferences.update(ctx.user.id, input)),
});
