import { ZCheckoutInput, ZSimulatedCheckoutInput, ZSimulateInput } from '@chatmeter/shared/billing';
import { accountProcedure, authedProcedure, publicProcedure, router } from '../trpc/init.ts';

export const billingRouter = router({
  packs: publicProcedure.query(({ ctx }) => ctx.deps.billing.packs()),

  /** Plan, subscription state, credits and recent payments; `mode` tells the tab what it can offer. */
  status: authedProcedure.query(({ ctx }) => ctx.deps.billing.status(ctx.user)),

  /** `{ plan }` or `{ pack }` -> the Stripe Checkout (or, for a plan change, portal) URL to send the browser to. */
  checkout: accountProcedure.input(ZCheckoutInput).mutation(({ ctx, input }) => ctx.deps.billing.checkout(ctx.user, input)),

  portal: accountProcedure.mutation(({ ctx }) => ctx.deps.billing.portal(ctx.user)),

  /** Offline simulator only (BILLING_SIMULATOR=1, no Stripe key): what a simulated checkout is for. */
  simulatedCheckout: accountProcedure.input(ZSimulatedCheckoutInput).query(({ ctx, input }) => ctx.deps.billing.simulatedCheckout(ctx.user, input.sessionId)),

  /** Offline simulator only: completes a test checkout or plays a portal action, through the real webhook handler. */
  simulate: accountProcedure.input(ZSimulateInput).mutation(({ ctx, input }) => ctx.deps.billing.simulate(ctx.user, input)),
});
