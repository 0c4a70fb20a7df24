import { describe, expect, it } from 'vitest';
import { anyYearly, costCapText, planOffer, type OfferPlan, type OfferStatus } from './plan-offer.ts';

const plans: OfferPlan[] = [
  { id: 'free', name: 'Free', priceMonthlyCents: 0, priceYearlyCents: 0 },
  { id: 'pro', name: 'Pro', priceMonthlyCents: 1_500, priceYearlyCents: 15_000 },
  { id: 'enterprise', name: 'Enterprise', priceMonthlyCents: 9_900, priceYearlyCents: null },
];
const [free, pro, enterprise] = plans as [OfferPlan, OfferPlan, OfferPlan];
const onFree: OfferStatus = { mode: 'stripe', plan: 'free', subscription: null, purchasablePlans: ['pro', 'enterprise'], purchasableYearlyPlans: ['pro'] };
const onPro = (interval: 'month' | 'year' | null, cancelAtPeriodEnd = false): OfferStatus => ({
  ...onFree,
  plan: 'pro',
  subscription: { plan: 'pro', status: 'active', cancelAtPeriodEnd, interval },
});

describe('plan cards at a billing interval', () => {
  it("the yearly view shows the year's price, its monthly equivalent and the saving; monthly the month's", () => {
    expect(planOffer(pro, plans, onFree, 'year', false)).toMatchObject({
      priceCents: 15_000,
      per: 'year',
      monthlyEquivalentCents: 1_250,
      savingCents: 3_000,
      monthlyOnly: false,
    });
    expect(planOffer(pro, plans, onFree, 'month', false)).toMatchObject({ priceCents: 1_500, per: 'month', monthlyEquivalentCents: null, savingCents: null });
    expect(planOffer(free, plans, onFree, 'year', false)).toMatchObject({
      priceCents: 0,
      per: null,
      current: true,
      action: { label: 'Current plan', kind: null },
    });
  });

  it('subscribes at the chosen interval; a plan without a yearly price says so', () => {
    expect(planOffer(pro, plans, onFree, 'year', false).action).toEqual({ label: 'Upgrade to Pro', kind: 'checkout', primary: true, interval: 'year' });
    expect(planOffer(pro, plans, onFree, 'month', false).action).toEqual({ label: 'Upgrade to Pro', kind: 'checkout', primary: true, interval: 'month' });
    expect(planOffer(enterprise, plans, onFree, 'year', false)).toMatchObject({
      priceCents: 9_900,
      per: 'month',
      monthlyOnly: true,
      action: { label: 'Sold monthly only', kind: null },
    });
    // Priced yearly in the plan table but no yearly Stripe price on this server.
    expect(planOffer(pro, plans, { ...onFree, purchasableYearlyPlans: [] }, 'year', false).action).toMatchObject({ label: 'Not available', kind: null });
  });

  it('the current plan at its own interval is current; at the other, a switch of billing interval', () => {
    expect(planOffer(pro, plans, onPro('year'), 'year', false)).toMatchObject({ current: true, action: { label: 'Current plan', kind: null } });
    expect(planOffer(pro, plans, onPro('year'), 'month', false)).toMatchObject({
      current: false,
      action: { label: 'Switch to monthly billing', kind: 'checkout', interval: 'month' },
    });
    expect(planOffer(pro, plans, onPro('month'), 'year', false)).toMatchObject({
      current: false,
      action: { label: 'Switch to yearly billing', kind: 'checkout', interval: 'year' },
    });
    expect(planOffer(pro, plans, onPro(null), 'month', false).current).toBe(true);
    expect(planOffer(free, plans, onPro('year'), 'year', false).action).toMatchObject({ label: 'Downgrade to Free', kind: 'portal' });
    expect(planOffer(enterprise, plans, onPro('year'), 'month', false).action).toMatchObject({ label: 'Upgrade to Enterprise', interval: 'month' });
  });

  it('a plan being cancelled is resumed at its own interval', () => {
    expect(planOffer(pro, plans, onPro('year', true), 'year', false).action).toEqual({
      label: 'Resume plan',
      kind: 'checkout',
      primary: true,
      interval: 'year',
    });
    expect(planOffer(pro, plans, onPro('month', true), 'month', false).action).toMatchObject({ label: 'Resume plan', interval: 'month' });
  });

  it('guests, billing off, and whether to show the toggle at all', () => {
    expect(planOffer(pro, plans, onFree, 'year', true).action).toMatchObject({ label: 'Create an account first', kind: null });
    expect(planOffer(pro, plans, { ...onFree, mode: 'off' }, 'year', false).action).toMatchObject({ label: 'Not available here', kind: null });
    expect(anyYearly(plans)).toBe(true);
    expect(anyYearly(plans.map((p) => ({ ...p, priceYearlyCents: null })))).toBe(false);
  });
});

describe('costCapText', () => {
  it('states the monthly provider-cost cap, and nothing without one', () => {
    expect(costCapText(5_000_000)).toBe('Provider cost capped at $5.00 / month');
    expect(costCapText(100_000)).toBe('Provider cost capped at $0.10 / month');
    expect(costCapText(40_000_000_000)).toBe('Provider cost capped at $40,000.00 / month');
    expect(costCapText(0)).toBe('Provider cost capped at $0.00 / month');
    // Below a cent the digits stay, so a backstop does not read as $0.00.
    expect(costCapText(2_500)).toBe('Provider cost capped at $0.0025 / month');
    expect(costCapText(null)).toBeNull();
    expect(costCapText(undefined)).toBeNull();
  });
});
