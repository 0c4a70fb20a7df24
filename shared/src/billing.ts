// Billing: credit packs, the inputs of the billing procedures and the shape of
// billing.status(). Prices of packs are integer cents (the Stripe boundary);
// payments are reported in micro-USD like every other amount.
import { z } from 'zod';

export interface TCreditPack {
  id: string;
  name: string;
  tokens: number;
  /** What Stripe charges for the pack (the price object is the truth; this is for display). */
  priceCents: number;
}

export const CREDIT_PACKS: readonly TCreditPack[] = [
  { id: 'pack_100k', name: '100k tokens', tokens: 100_000, priceCents: 500 },
  { id: 'pack_1m', name: '1M tokens', tokens: 1_000_000, priceCents: 4_000 },
];

export function findPack(id: string): TCreditPack | undefined {
  return CREDIT_PACKS.find((pack) => pack.id === id);
}

const ZPlanId = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'Choose a plan');
const ZPackId = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'Choose a credit pack');

export const BILLING_INTERVALS = ['month', 'year'] as const;
export type TBillingInterval = (typeof BILLING_INTERVALS)[number];

/**
 * `{ plan, interval? }` opens a subscription checkout (billed each month, the default,
 * or once a year), `{ pack }` a one-time payment.
 */
export const ZCheckoutInput = z.union([
  z.strictObject({ plan: ZPlanId, interval: z.enum(BILLING_INTERVALS, 'Choose monthly or yearly billing').optional() }),
  z.strictObject({ pack: ZPackId }),
]);
export type TCheckoutInput = z.infer<typeof ZCheckoutInput>;

/** What the offline simulator can do in place of Stripe's hosted pages. */
export const SIMULATOR_ACTIONS = ['complete_checkout', 'cancel_at_period_end', 'resume', 'payment_failed', 'renew', 'cancel_now', 'refund_last_pack'] as const;

const ZSimSessionId = z.string().regex(/^cs_sim_[A-Za-z0-9]{8,64}$/, 'Not a test checkout');

export const ZSimulateInput = z.strictObject({
  action: z.enum(SIMULATOR_ACTIONS),
  /** The simulated Checkout Session, for `complete_checkout`. */
  sessionId: ZSimSessionId.optional(),
});
export const ZSimulatedCheckoutInput = z.strictObject({ sessionId: ZSimSessionId });
export type TSimulateInput = z.infer<typeof ZSimulateInput>;

/** Stripe's subscription statuses (an unknown future one is kept as text). */
export type TSubscriptionStatus = 'active' | 'trialing' | 'past_due' | 'unpaid' | 'canceled' | 'incomplete' | 'incomplete_expired' | 'paused' | (string & {});

export interface TBillingPayment {
  id: string;
  createdAt: Date;
  kind: 'subscription' | 'pack';
  description: string;
  amountMicroUsd: number;
  refundedMicroUsd: number;
  currency: string;
  status: 'paid' | 'failed' | 'refunded' | 'partially_refunded';
}

export interface TBillingStatus {
  /** `stripe`: real Stripe; `simulator`: offline test checkout; `off`: no STRIPE_SECRET_KEY. */
  mode: 'stripe' | 'simulator' | 'off';
  /** The effective plan (what limits apply right now). */
  plan: string;
  subscription: {
    plan: string | null;
    status: TSubscriptionStatus;
    currentPeriodStart: Date | null;
    currentPeriodEnd: Date | null;
    cancelAtPeriodEnd: boolean;
    /** Set while past_due: paid limits last until then. */
    graceEndsAt: Date | null;
    /** How the subscription's price bills (null: a price this server does not know). */
    interval: TBillingInterval | null;
  } | null;
  /** `heldTokens`: credits held while a payment dispute on a pack is open (not in `tokens`, not spendable). */
  credits: { tokens: number; heldTokens: number };
  payments: TBillingPayment[];
  /** Plans that can be bought monthly (they have a Stripe price). */
  purchasablePlans: string[];
  /** Plans that can be bought by the year (they have a yearly Stripe price). */
  purchasableYearlyPlans: string[];
}
