// Which Stripe price is which plan or pack, and which mode billing runs in.
// Resolved once at start: a paid plan or a pack without a price while Stripe is
// configured stops start-up, naming the variable to set.
import { randomBytes } from 'node:crypto';
import { CREDIT_PACKS, type TBillingInterval, type TCreditPack } from '@chatmeter/shared/billing';
import type { TPlan } from '@chatmeter/shared/plans';
import { EnvError, type ServerEnv } from '../env.ts';

export type BillingMode = 'stripe' | 'simulator' | 'off';

export interface BillingConfig {
  mode: BillingMode;
  /** Verifies webhook signatures; in simulator mode without STRIPE_WEBHOOK_SECRET, random per process. */
  webhookSecret: string | undefined;
  graceDays: number;
  /** plan id -> Stripe price id of the monthly price (paid plans only). */
  planPrices: Map<string, string>;
  /** plan id -> Stripe price id of the yearly price (plans sold by the year only). */
  planYearlyPrices: Map<string, string>;
  /** Stripe price id (monthly or yearly) -> plan id. */
  planByPrice: Map<string, string>;
  /** Stripe price id of a plan -> how it bills. */
  priceIntervals: Map<string, TBillingInterval>;
  packs: readonly TCreditPack[];
  /** pack id -> Stripe price id. */
  packPrices: Map<string, string>;
}

/** An EnvError, so start-up prints just the message naming what to set. */
export class BillingConfigError extends EnvError {
  constructor(message: string) {
    super(message);
    this.name = 'BillingConfigError';
  }
}

const PLAN_PRICE_ENV: Record<string, keyof ServerEnv> = { pro: 'STRIPE_PRICE_PRO', enterprise: 'STRIPE_PRICE_ENTERPRISE' };
const PLAN_YEARLY_PRICE_ENV: Record<string, keyof ServerEnv> = { pro: 'STRIPE_PRICE_PRO_YEARLY', enterprise: 'STRIPE_PRICE_ENTERPRISE_YEARLY' };
const PACK_PRICE_ENV: Record<string, keyof ServerEnv> = { pack_100k: 'STRIPE_PRICE_PACK_100K', pack_1m: 'STRIPE_PRICE_PACK_1M' };

export function resolveBillingConfig(env: ServerEnv, plans: readonly TPlan[]): BillingConfig {
  const mode: BillingMode = env.STRIPE_SECRET_KEY ? 'stripe' : env.BILLING_SIMULATOR ? 'simulator' : 'off';
  const planPrices = new Map<string, string>();
  const planYearlyPrices = new Map<string, string>();
  const planByPrice = new Map<string, string>();
  const priceIntervals = new Map<string, TBillingInterval>();
  const packPrices = new Map<string, string>();
  const problems: string[] = [];

  for (const plan of plans) {
    if (plan.id === 'guest' || plan.id === 'free' || plan.priceMonthlyCents <= 0) continue;
    const envName = PLAN_PRICE_ENV[plan.id];
    const fromEnv = envName ? (env[envName] as string | undefined) : undefined;
    // The environment wins over the plans file, so one plans file serves test and live keys.
    let price = fromEnv ?? plan.stripePriceId;
    if (!price && mode === 'simulator') price = `price_sim_${plan.id}`;
    if (!price) {
      if (mode === 'stripe') problems.push(`plan "${plan.id}" has no Stripe price: set ${envName ?? `stripePriceId on the plan in PLANS_FILE`}`);
      continue;
    }
    if (planByPrice.has(price)) problems.push(`plans "${planByPrice.get(price)}" and "${plan.id}" share the Stripe price ${price}`);
    planPrices.set(plan.id, price);
    planByPrice.set(price, plan.id);
    priceIntervals.set(price, 'month');

    // The yearly price is optional: without one the plan is sold monthly only.
    const yearlyEnv = PLAN_YEARLY_PRICE_ENV[plan.id];
    let yearly = (yearlyEnv ? (env[yearlyEnv] as string | undefined) : undefined) ?? plan.stripePriceIdYearly;
    if (!yearly && mode === 'simulator' && (plan.priceYearlyCents ?? 0) > 0) yearly = `price_sim_${plan.id}_yearly`;
    if (!yearly) continue;
    if (!plan.priceYearlyCents) {
      problems.push(`plan "${plan.id}" has a yearly Stripe price but no priceYearlyCents to show: set priceYearlyCents on the plan in PLANS_FILE`);
      continue;
    }
    if (planByPrice.has(yearly)) problems.push(`plans "${planByPrice.get(yearly)}" and "${plan.id}" (yearly) share the Stripe price ${yearly}`);
    planYearlyPrices.set(plan.id, yearly);
    planByPrice.set(yearly, plan.id);
    priceIntervals.set(yearly, 'year');
  }
  for (const pack of CREDIT_PACKS) {
    const envName = PACK_PRICE_ENV[pack.id];
    let price = envName ? (env[envName] as string | undefined) : undefined;
    if (!price && mode === 'simulator') price = `price_sim_${pack.id}`;
    if (!price) {
      if (mode === 'stripe') problems.push(`credit pack "${pack.id}" has no Stripe price: set ${envName}`);
      continue;
    }
    packPrices.set(pack.id, price);
  }
  if (problems.length > 0) {
    throw new BillingConfigError(`Invalid billing configuration (STRIPE_SECRET_KEY is set):\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }

  const webhookSecret = env.STRIPE_WEBHOOK_SECRET ?? (mode === 'simulator' ? `whsec_sim_${randomBytes(24).toString('hex')}` : undefined);
  return { mode, webhookSecret, graceDays: env.BILLING_GRACE_DAYS, planPrices, planYearlyPrices, planByPrice, priceIntervals, packs: CREDIT_PACKS, packPrices };
}
