import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMicroUsd } from './money.ts';
import { estimatePlan, formatPlannerCost, observedColumn, plannerPricing, PlannerError, ZPlannerInput, type TPlannerInput } from './planner.ts';
import { DEFAULT_PRICING_TABLE } from './pricing.ts';

const flat = (usd: number) => plannerPricing(DEFAULT_PRICING_TABLE, undefined, usd);
const estimate = (input: TPlannerInput, usd = 0.03) => estimatePlan(ZPlannerInput.parse(input), flat(usd));

describe('the founder’s 200 users', () => {
  it.each([
    ['light', 200_000, 6_000_000],
    ['medium', 500_000, 15_000_000],
    ['heavy', 2_000_000, 60_000_000],
  ] as const)('%s: %i tokens a day, %i a month', (profile, day, month) => {
    const e = estimate({ users: 200, profile });
    expect(e.tokensPerDay).toBe(day);
    expect(e.tokensPerMonth).toBe(month);
  });

  it('medium at a flat $0.03 per 1k tokens is $450 a month ($15 a day)', () => {
    const e = estimate({ users: 200, profile: 'medium' }, 0.03);
    expect(e.costMicroUsdPerMonth).toBe(450_000_000);
    expect(formatMicroUsd(e.costMicroUsdPerMonth)).toBe('$450.00');
    expect(e.costMicroUsdPerDay).toBe(15_000_000);
    expect(e.costMicroUsdPerUserPerMonth).toBe(2_250_000);
    expect(e.pricing).toMatchObject({ source: 'flat', model: null, inputMicrosPerMillion: 30_000_000, outputMicrosPerMillion: 30_000_000 });
  });

  it('custom figures equal to a profile give the same numbers', () => {
    const custom = estimate({ users: 200, promptTokens: 150, completionTokens: 350, interactionsPerUserPerDay: 5 });
    const medium = estimate({ users: 200, profile: 'medium' });
    expect({ ...custom, profile: 'medium' }).toEqual(medium);
  });
});

describe('model prices', () => {
  it('charges prompt and completion tokens at the model’s own prices', () => {
    // gpt-4o-mini: $0.15 / 1M input, $0.60 / 1M output. Medium, 200 users a day:
    // 150,000 prompt tokens ($0.0225) + 350,000 completion tokens ($0.21) = $0.2325.
    const pricing = plannerPricing(DEFAULT_PRICING_TABLE, 'gpt-4o-mini', undefined);
    const e = estimatePlan(ZPlannerInput.parse({ users: 200, profile: 'medium' }), pricing);
    expect(e.promptTokensPerDay).toBe(150_000);
    expect(e.completionTokensPerDay).toBe(350_000);
    expect(e.costMicroUsdPerDay).toBe(232_500);
    expect(e.costMicroUsdPerMonth).toBe(6_975_000);
    expect(e.pricing).toMatchObject({ source: 'model', model: 'gpt-4o-mini', label: 'GPT-4o mini' });
  });

  it('defaults to the table’s first model; a flat price wins over a model', () => {
    expect(plannerPricing(DEFAULT_PRICING_TABLE, undefined, undefined).model).toBe(DEFAULT_PRICING_TABLE[0]!.model);
    expect(plannerPricing(DEFAULT_PRICING_TABLE, 'gpt-4o', 0.5).source).toBe('flat');
  });

  it('an unknown model is an error, never a free estimate', () => {
    expect(() => plannerPricing(DEFAULT_PRICING_TABLE, 'gpt-9', undefined)).toThrow(PlannerError);
  });

  it('rounds the total up once, to the micro-dollar', () => {
    // 1 user, 1 prompt token, 0 completion, 1 a day at $0.15 / 1M: 0.15 micro-USD -> 1.
    const pricing = plannerPricing(DEFAULT_PRICING_TABLE, 'gpt-4o-mini', undefined);
    const e = estimatePlan(ZPlannerInput.parse({ users: 1, promptTokens: 1, completionTokens: 0, interactionsPerUserPerDay: 1 }), pricing);
    expect(e.costMicroUsdPerDay).toBe(1);
    expect(e.costMicroUsdPerMonth).toBe(5); // 30 x 0.15 = 4.5 -> 5, not 30 x 1
  });
});

describe('input', () => {
  it('accepts a profile or the three custom figures', () => {
    expect(ZPlannerInput.safeParse({ users: 200, profile: 'heavy', model: 'gpt-4o' }).success).toBe(true);
    expect(ZPlannerInput.safeParse({ users: 5, promptTokens: 1, completionTokens: 2, interactionsPerUserPerDay: 3 }).success).toBe(true);
  });

  it.each([
    [{ users: 0, profile: 'light' }],
    [{ users: 1.5, profile: 'light' }],
    [{ users: 10, profile: 'extreme' }],
    [{ users: 10 }],
    [{ users: 10, promptTokens: 1, completionTokens: 2 }],
    [{ users: 10, promptTokens: -1, completionTokens: 2, interactionsPerUserPerDay: 1 }],
    [{ users: 10, profile: 'light', pricePer1kTokensUsd: -0.01 }],
    [{ users: 10, profile: 'light', pricePer1kTokensUsd: 0.0000001 }],
    [{ users: 10_000_000, promptTokens: 1_000_000, completionTokens: 1_000_000, interactionsPerUserPerDay: 10_000 }],
  ])('refuses %j', (input) => {
    expect(ZPlannerInput.safeParse(input).success).toBe(false);
  });

  it('every accepted input gives safe integers that add up (or a PlannerError, never a wrong number)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.constantFrom(...DEFAULT_PRICING_TABLE.map((p) => p.model)),
        (users, promptTokens, completionTokens, interactionsPerUserPerDay, model) => {
          const parsed = ZPlannerInput.safeParse({ users, promptTokens, completionTokens, interactionsPerUserPerDay });
          if (!parsed.success) return;
          let e;
          try {
            e = estimatePlan(parsed.data, plannerPricing(DEFAULT_PRICING_TABLE, model, undefined));
          } catch (error) {
            // Only a cost past 2^53 micro-USD (about 9 billion dollars) may be refused.
            expect(error).toBeInstanceOf(PlannerError);
            return;
          }
          expect(e.tokensPerDay).toBe(e.promptTokensPerDay + e.completionTokensPerDay);
          expect(e.tokensPerMonth).toBe(e.tokensPerDay * 30);
          expect(e.costMicroUsdPerMonth).toBeGreaterThanOrEqual(e.costMicroUsdPerDay);
          for (const v of [e.tokensPerMonth, e.costMicroUsdPerMonth]) expect(Number.isSafeInteger(v)).toBe(true);
        },
      ),
    );
  });
});

describe('from your data', () => {
  it('has nothing to project without chats', () => {
    const column = observedColumn(
      { windowDays: 7, activeUserDays: 0, daysWithData: 0, interactions: 0, promptTokens: 0, completionTokens: 0, costMicroUsd: 0 },
      200,
    );
    expect(column).toEqual({ windowDays: 7, hasData: false, daysWithData: 0, averages: null, projection: null });
  });

  it('averages per active user-day and projects them onto the users asked about', () => {
    // 4 user-days, 20 chats, 3,000 prompt + 7,000 completion tokens, $0.10 in all.
    const column = observedColumn(
      { windowDays: 7, activeUserDays: 4, daysWithData: 2, interactions: 20, promptTokens: 3_000, completionTokens: 7_000, costMicroUsd: 100_000 },
      200,
    );
    expect(column.averages).toEqual({
      tokensPerUserPerDay: 2_500,
      interactionsPerUserPerDay: 5,
      promptTokensPerInteraction: 150,
      completionTokensPerInteraction: 350,
      costMicroUsdPerUserPerDay: 25_000,
      activeUsersPerDay: 2,
    });
    // Exactly the medium profile: 500,000 tokens a day for 200 users.
    expect(column.projection).toEqual({ tokensPerDay: 500_000, tokensPerMonth: 15_000_000, costMicroUsdPerDay: 5_000_000, costMicroUsdPerMonth: 150_000_000 });
  });
});

describe('formatPlannerCost', () => {
  it('shows cents from a dollar up and a hundredth of a cent below', () => {
    expect(formatPlannerCost(450_000_000)).toBe('$450.00');
    expect(formatPlannerCost(1_234_567)).toBe('$1.23');
    expect(formatPlannerCost(232_500)).toBe('$0.2325');
    expect(formatPlannerCost(97_500)).toBe('$0.0975');
  });
});
