import { ZPlanWorstCaseInput } from '@chatmeter/shared/plan-economics';
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

  /** "What does a Pro user cost me at most?": one plan's worst-case provider cost per period, how it is derived, and the margin. */
  worstCase: publicProcedure
    .meta({ rateLimit: 'planner' })
    .input(ZPlanWorstCaseInput)
    .query(({ ctx, input }) => ctx.deps.economics.forPlan(input.plan)),
});
