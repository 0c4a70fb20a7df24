import { ZPreferencesUpdateInput } from '@chatmeter/shared/alerts';
import { authedProcedure, router } from '../trpc/init.ts';

export const preferencesRouter = router({
  /** `{ alertEmails }` (default true). Theme, default model and voice live in the browser. */
  get: authedProcedure.query(({ ctx }) => ctx.deps.preferences.get(ctx.user.id)),

  update: authedProcedure.input(ZPreferencesUpdateInput).mutation(({ ctx, input }) => ctx.deps.preferences.update(ctx.user.id, input)),
});
