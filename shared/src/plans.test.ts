import { describe, expect, it } from 'vitest';
import { DEFAULT_PLANS, parsePlanTable, publicPlan } from './plans.ts';

describe('yearly prices', () => {
  it("the paid default plans sell a year for ten months' price (two months free)", () => {
    for (const plan of DEFAULT_PLANS.filter((p) => p.priceMonthlyCents > 0)) {
      expect(plan.priceYearlyCents, plan.id).toBe(plan.priceMonthlyCents * 10);
    }
  });

  it('a plans file without yearly fields still parses; plans.list says null for "not sold by the year"', () => {
    const table = parsePlanTable(DEFAULT_PLANS.map(({ priceYearlyCents: _y, ...plan }) => plan));
    expect(table.map((p) => publicPlan(p).priceYearlyCents)).toEqual([null, null, null, null]);
    const pro = DEFAULT_PLANS.find((p) => p.id === 'pro')!;
    expect(publicPlan({ ...pro, stripePriceIdYearly: 'price_secret' })).toEqual({
      id: 'pro',
      name: 'Pro',
      priceMonthlyCents: 1_500,
      priceYearlyCents: 15_000,
      limits: pro.limits,
    });
  });

  it('refuses a yearly price that is not a whole number of cents', () => {
    expect(() => parsePlanTable(DEFAULT_PLANS.map((p) => ({ ...p, priceYearlyCents: 12.5 })))).toThrow();
    expect(() => parsePlanTable(DEFAULT_PLANS.map((p) => ({ ...p, priceYearlyCents: -1 })))).toThrow();
  });
});
