import { z } from 'zod';

export const PLAN_IDS = ['guest', 'free', 'pro', 'enterprise'] as const;

export const ZPlanLimits = z.object({
  requestsPerMinute: z.number().int().positive(),
  messagesPerHour: z.number().int().nonnegative(),
  messagesPerDay: z.number().int().nonnegative(),
  tokensPerMonth: z.number().int().nonnegative(),
  maxConversationMessages: z.number().int().positive(),
  maxInputChars: z.number().int().positive(),
  models: z.array(z.string().min(1)).min(1),
  ttsCharsPerDay: z.number().int().nonnegative(),
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
  return { id: plan.id, name: plan.name, priceMonthlyCents: plan.priceMonthlyCents, priceYearlyCents: plan.priceYearlyCents ?? null, limits: plan.limits };
}
