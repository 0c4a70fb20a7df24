// What a plan card offers at the chosen billing interval: the price to show and the
// button (subscribe, upgrade, switch interval, resume, or nothing). Pure, so the
// rules are tested without a browser.
import type { TBillingInterval } from '@chatmeter/shared/billing';
import { formatMicroUsd } from '@chatmeter/shared/money';

export interface OfferPlan {
  id: string;
  name: string;
  priceMonthlyCents: number;
  priceYearlyCents: number | null;
}

export interface OfferStatus {
  mode: 'stripe' | 'simulator' | 'off';
  plan: string;
  subscription: { plan: string | null; status: string; cancelAtPeriodEnd: boolean; interval: TBillingInterval | null } | null;
  purchasablePlans: string[];
  purchasableYearlyPlans: string[];
}

export interface PlanOffer {
  /** Price in cents for the period below (0: free). */
  priceCents: number;
  per: 'month' | 'year' | null;
  /** Yearly: what it comes to a month, and what a year of monthly payments would cost more. */
  monthlyEquivalentCents: number | null;
  savingCents: number | null;
  /** The plan is not sold by the year here (a yearly view shows its monthly price). */
  monthlyOnly: boolean;
  /** Whether this card is the user's plan at this interval. */
  current: boolean;
  /** `interval`: the one to send with a checkout (resuming keeps the subscription's own). */
  action: { label: string; kind: 'checkout' | 'portal' | null; primary: boolean; interval: TBillingInterval };
}

/** Subscriptions that are still there to change (not ended). */
export const LIVE_STATUSES = new Set(['active', 'trialing', 'past_due', 'unpaid', 'incomplete']);

/** Plans that sell a year at all (the toggle is shown only when one does). */
export function anyYearly(plans: readonly OfferPlan[]): boolean {
  return plans.some((p) => p.priceMonthlyCents > 0 && (p.priceYearlyCents ?? 0) > 0);
}

export function planOffer(
  plan: OfferPlan,
  plans: readonly OfferPlan[],
  status: OfferStatus | undefined,
  interval: TBillingInterval,
  isGuest: boolean,
): PlanOffer {
  const paid = plan.priceMonthlyCents > 0;
  const yearlyPrice = paid && plan.priceYearlyCents ? plan.priceYearlyCents : null;
  const showYearly = interval === 'year' && yearlyPrice !== null;
  const monthlyOnly = interval === 'year' && paid && yearlyPrice === null;
  const price = {
    priceCents: showYearly ? yearlyPrice : plan.priceMonthlyCents,
    per: paid ? (showYearly ? ('year' as const) : ('month' as const)) : null,
    monthlyEquivalentCents: showYearly ? Math.round(yearlyPrice / 12) : null,
    savingCents: showYearly ? Math.max(0, plan.priceMonthlyCents * 12 - yearlyPrice) : null,
    monthlyOnly,
  };

  const sub = status?.subscription;
  const live = !!sub && LIVE_STATUSES.has(sub.status);
  const isPlan = !!status && plan.id === status.plan;
  // The subscription's interval decides which toggle position is "the current plan"; unknown counts as monthly.
  const subInterval: TBillingInterval = sub?.interval ?? 'month';
  const current = isPlan && (!paid || !live || subInterval === interval || monthlyOnly);
  const purchasable = !!status && (interval === 'year' ? status.purchasableYearlyPlans : status.purchasablePlans).includes(plan.id);
  const currentPrice = plans.find((p) => p.id === status?.plan)?.priceMonthlyCents ?? 0;
  const none = (label: string): PlanOffer => ({ ...price, current, action: { label, kind: null, primary: false, interval } });
  const go = (label: string, kind: 'checkout' | 'portal', primary: boolean, at: TBillingInterval = interval): PlanOffer => ({
    ...price,
    current,
    action: { label, kind, primary, interval: at },
  });

  if (isGuest) return none('Create an account first');
  if (!status || status.mode === 'off') return none(isPlan ? 'Current plan' : 'Not available here');
  if (isPlan && paid && live && sub?.cancelAtPeriodEnd && (current || monthlyOnly)) return go('Resume plan', 'checkout', true, subInterval);
  if (current) return none('Current plan');
  if (!paid) return live ? go('Downgrade to Free', 'portal', false) : none('Included');
  if (monthlyOnly) return none('Sold monthly only');
  if (!purchasable) return none('Not available');
  if (isPlan) return go(interval === 'year' ? 'Switch to yearly billing' : 'Switch to monthly billing', 'checkout', true);
  if (plan.priceMonthlyCents >= currentPrice) return go(`Upgrade to ${plan.name}`, 'checkout', true);
  return go(`Switch to ${plan.name}`, 'checkout', false);
}

/** The plan card's line for `limits.costPerMonthMicroUsd`: "Provider cost capped at $5.00 / month", or null without a cap. */
export function costCapText(costPerMonthMicroUsd: number | null | undefined): string | null {
  if (costPerMonthMicroUsd === null || costPerMonthMicroUsd === undefined) return null;
  // Cents from a cent up; a backstop below a cent keeps its digits rather than reading as $0.00.
  const amount = formatMicroUsd(costPerMonthMicroUsd, { maxFractionDigits: costPerMonthMicroUsd >= 10_000 || costPerMonthMicroUsd === 0 ? 2 : 6 });
  return `Provider cost capped at ${amount} / month`;
}
