import { ZPlannerInput } from '@chatmeter/shared/planner';
import { publicProcedure, router } from '../trpc/init.ts';

export const plannerRouter = router({
  /** The models (and their prices per million tokens) the planner can price with. */
  models: publicProcedure.meta({ rateLimit: 'planner' }).query(({ ctx }) => ctx.deps.planner.models()),

  /** Tokens and cost per day and 30-day month; `fromYourData` is filled in for support and admin accounts. */
  estimate: publicProcedure
    .meta({ rateLimit: 'planner' })
    .input(ZPlannerInput)
    .query(({ ctx, input }) => ctx.deps.planner.estimate(input, { showObserved: ctx.user?.role === 'admin' || ctx.user?.role === 'support' })),
});
