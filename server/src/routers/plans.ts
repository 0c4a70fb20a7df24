import { publicPlan } from '@chatmeter/shared/plans';
import { publicProcedure, router } from '../trpc/init.ts';

export const plansRouter = router({
  list: publicProcedure.query(({ ctx }) => ctx.deps.plans.map(publicPlan)),
});
