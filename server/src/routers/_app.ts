import { createCallerFactory, router } from '../trpc/init.ts';
import { accountRouter } from './account.ts';
import { adminRouter } from './admin.ts';
import { authRouter } from './auth.ts';
import { billingRouter } from './billing.ts';
import { chatRouter } from './chat.ts';
import { notificationsRouter } from './notifications.ts';
import { plannerRouter } from './planner.ts';
import { plansRouter } from './plans.ts';
import { preferencesRouter } from './preferences.ts';
import { ttsRouter } from './tts.ts';
import { usageRouter } from './usage.ts';

export const appRouter = router({
  auth: authRouter,
  plans: plansRouter,
  chat: chatRouter,
  usage: usageRouter,
  tts: ttsRouter,
  billing: billingRouter,
  admin: adminRouter,
  account: accountRouter,
  planner: plannerRouter,
  notifications: notificationsRouter,
  preferences: preferencesRouter,
});

export type AppRouter = typeof appRouter;

/** The mutations that answer with a stream of events; the client reads them with httpBatchStreamLink (client/src/trpc.ts). */
export const STREAMING_PROCEDURES = ['chat.send', 'chat.regenerate', 'chat.edit'] as const;
export const createCaller = createCallerFactory(appRouter);
