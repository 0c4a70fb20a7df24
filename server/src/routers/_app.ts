import { createCallerFactory, router } from '../trpc/init.ts';
import { authRouter } from './auth.ts';
import { chatRouter } from './chat.ts';
import { plansRouter } from './plans.ts';
import { usageRouter } from './usage.ts';

export const appRouter = router({
  auth: authRouter,
  plans: plansRouter,
  chat: chatRouter,
  usage: usageRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
