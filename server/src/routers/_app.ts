import { createCallerFactory, router } from '../trpc/init.ts';
import { authRouter } from './auth.ts';
import { plansRouter } from './plans.ts';

export const appRouter = router({
  auth: authRouter,
  plans: plansRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
