import { z } from 'zod';

export const ZPlanLimits = z.object({
  requestsPerMinute: z.number().int().positive(),
  messagesPerHour: z.number().int().nonnegative(),
  messagesPerDay: z.number().int().nonnegative(),
  tokensPerMonth: z.number().int().nonnegative(),
  maxConversationMessages: z.number().int().positive(),
  maxInputChars: z.number().int().positive(),
  models: z.array(z.string().min(1)).min(1),
  ttsCharsPerDay: z.number().int().nonnegative(),
  /**
   * Provider cost per user per billing period (the period of `tokensPerMonth`) in integer
   * micro-USD, counted on what the plan's allowance pays for (credits are bought, not capped).
   * Absent or null: no dollar cap.
   */
  costPerMonthMicroUsd: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).nullable().optional(),
  /** A cheaper model (one of `models`) that answers when the one asked for no longer fits the budget. */
  fallbackModel: z.string().min(1).optional(),
});
export type TPlanLimits = z.infer<typeof ZPlanLimits>;

export const ZPlan = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'plan ids are lower-case words'),
    name: z.string().min(1),
    priceMonthlyCents: z.number().int().nonnegative(),
    /** Price of a year paid at once (display; Stripe's price object is what is charged). Absent: no yearly billing. */
    priceYearlyCents: z.number().int().nonnegative().optional(),
    limits: ZPlanLimits,
    /** Stripe price id for paid plans (billing); may also come from the environment. */
    stripePriceId: z.string().optional(),
    /** Stripe price id of the yearly price (optional; or STRIPE_PRICE_<PLAN>_YEARLY). */
    stripePriceIdYearly: z.string().optional(),
  })
  .loose();
export type TPlan = z.infer<typeof ZPlan>;

export const ZPlanTable = z
  .array(ZPlan)
  .min(1)
  .superRefine((plans, ctx) => {
    const ids = new Set<string>();
    for (const [i, plan] of plans.entries()) {
      const fallback = plan.limits.fallbackModel;
      if (fallback !== undefined && !plan.limits.models.includes(fallback)) {
        ctx.addIssue({ code: 'custom', path: [i, 'limits', 'fallbackModel'], message: `fallbackModel ${fallback} is not one of the plan's models` });
      }
      if (ids.has(plan.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate plan id ${plan.id}` });
      ids.add(plan.id);
    }
    for (const required of ['guest', 'free']) {
      if (!ids.has(required)) ctx.addIssue({ code: 'custom', path: [], message: `the plan table needs a "${required}" plan` });
    }
  });

export const DEFAULT_PLANS: TPlan[] = [
  {
    id: 'guest',
    name: 'Guest',
    priceMonthlyCents: 0,
    priceYearlyCents: 0,
    limits: {
      requestsPerMinute: 5,
      messagesPerHour: 5,
      messagesPerDay: 5,
      tokensPerMonth: 10_000,
      maxConversationMessages: 20,
      maxInputChars: 1_000,
      models: ['gpt-4o-mini', 'demo'],
      ttsCharsPerDay: 1_000,
      // A backstop: the token allowance costs at most $0.006 with gpt-4o-mini.
      costPerMonthMicroUsd: 10_000,
    },
  },
  {
    id: 'free',
    name: 'Free',
    priceMonthlyCents: 0,
    priceYearlyCents: 0,
    limits: {
      requestsPerMinute: 10,
      messagesPerHour: 10,
      messagesPerDay: 20,
      tokensPerMonth: 100_000,
      maxConversationMessages: 50,
      maxInputChars: 4_000,
      models: ['gpt-4o-mini', 'demo'],
      ttsCharsPerDay: 5_000,
      // A backstop: the token allowance costs at most $0.06 with gpt-4o-mini.
      costPerMonthMicroUsd: 100_000,
    },
  },
  {
    id: 'pro',
    name: 'Pro',
    priceMonthlyCents: 1_500,
    // Two months free: ten months' price for twelve.
    priceYearlyCents: 15_000,
    limits: {
      requestsPerMinute: 30,
      messagesPerHour: 100,
      messagesPerDay: 500,
      tokensPerMonth: 2_000_000,
      maxConversationMessages: 200,
      maxInputChars: 16_000,
      models: ['gpt-4o-mini', 'gpt-4.1-mini', 'gpt-4o', 'demo'],
      ttsCharsPerDay: 50_000,
      // 2M tokens of gpt-4o could cost $20 against a $15 price: at most $5 in provider fees,
      // then gpt-4o-mini answers while it fits.
      costPerMonthMicroUsd: 5_000_000,
      fallbackModel: 'gpt-4o-mini',
    },
  },
  {
    id: 'enterprise',
    name: 'Enterprise',
    priceMonthlyCents: 9_900,
    // Two months free: ten months' price for twelve.
    priceYearlyCents: 99_000,
    limits: {
      requestsPerMinute: 60,
      messagesPerHour: 400,
      messagesPerDay: 2_000,
      tokensPerMonth: 10_000_000,
      maxConversationMessages: 500,
      maxInputChars: 32_000,
      models: ['gpt-4o-mini', 'gpt-4.1-mini', 'gpt-4o', 'gpt-4.1', 'demo'],
      ttsCharsPerDay: 200_000,
      // 10M tokens of gpt-4o (its dearest model) could cost $100 against a $99 price: at most $40 in provider fees.
      costPerMonthMicroUsd: 40_000_000,
      fallbackModel: 'gpt-4o-mini',
    },
  },
];

/** Validates a plan table (the built-in one, or PLANS_FILE's contents). */
export function parsePlanTable(input: unknown): TPlan[] {
  return ZPlanTable.parse(input);
}

export type TPublicPlan = Pick<TPlan, 'id' | 'name' | 'priceMonthlyCents' | 'limits'> & {
  /** null: the plan is not sold by the year. */
  priceYearlyCents: number | null;
};

/** The shape `plans.list()` returns: no Stripe ids or other extras. */
export function publicPlan(plan: TPlan): TPublicPlan {
  return {
    id: plan.id,
    name: plan.name,
    priceMonthlyCents: plan.priceMonthlyCents,
    priceYearlyCents: plan.priceYearlyCents ?? null,
    limits: { ...plan.limits, costPerMonthMicroUsd: plan.limits.costPerMonthMicroUsd ?? null },
  };
}
