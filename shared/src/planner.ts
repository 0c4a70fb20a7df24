// The cost planner: how many tokens N users consume and what that costs, from a
// usage profile (or custom figures) and a model's prices (or a flat price per 1k
// tokens). Pure functions shared by the server (planner.estimate), the CLI
// (`npm run estimate`) and the client; all arithmetic on tokens and money is
// integer (BigInt inside), rounded up once at the end like costMicroUsd.
import { z } from 'zod';
import { formatMicroUsd, usdToMicros } from './money.ts';
import type { TModelPrice } from './pricing.ts';

/** The founder's three profiles (docs/architecture.md, "Cost planner"). */
export const PLANNER_PROFILES = {
  light: { promptTokens: 50, completionTokens: 150, interactionsPerUserPerDay: 5 },
  medium: { promptTokens: 150, completionTokens: 350, interactionsPerUserPerDay: 5 },
  heavy: { promptTokens: 300, completionTokens: 700, interactionsPerUserPerDay: 10 },
} as const satisfies Record<string, TUsageProfile>;

export type TPlannerProfileId = keyof typeof PLANNER_PROFILES;
export const PLANNER_PROFILE_IDS = Object.keys(PLANNER_PROFILES) as TPlannerProfileId[];

/** A month is 30 days for planning, as in the founder's arithmetic. */
export const PLANNER_DAYS_PER_MONTH = 30;

/** Beyond this the figures stop meaning anything (and would leave the safe-integer range). */
export const PLANNER_MAX_TOKENS_PER_MONTH = 1e15;

export interface TUsageProfile {
  promptTokens: number;
  completionTokens: number;
  interactionsPerUserPerDay: number;
}

const users = z
  .number({ error: 'users must be a number' })
  .int('users must be a whole number')
  .min(1, 'users must be at least 1')
  .max(10_000_000, 'users can be at most 10,000,000');
const tokens = (what: string) =>
  z
    .number({ error: `${what} must be a number` })
    .int(`${what} must be a whole number`)
    .min(0, `${what} must not be negative`)
    .max(1_000_000, `${what} can be at most 1,000,000`);

/** USD per 1,000 tokens, e.g. 0.03; at most six decimals of a dollar per 1k. */
const pricePer1k = z
  .number({ error: 'pricePer1kTokensUsd must be a number' })
  .nonnegative('pricePer1kTokensUsd must not be negative')
  .max(1_000, 'pricePer1kTokensUsd can be at most 1000')
  .refine((v) => {
    try {
      usdToMicros(v);
      return true;
    } catch {
      return false;
    }
  }, 'pricePer1kTokensUsd can have at most 6 decimals');

const common = {
  users,
  /** A model of the pricing table; default: the first one. Ignored when a flat price is given. */
  model: z.string().trim().min(1).max(200).optional(),
  pricePer1kTokensUsd: pricePer1k.optional(),
};

export const ZPlannerProfileInput = z.object({ ...common, profile: z.enum(['light', 'medium', 'heavy']) });
export const ZPlannerCustomInput = z.object({
  ...common,
  promptTokens: tokens('promptTokens'),
  completionTokens: tokens('completionTokens'),
  interactionsPerUserPerDay: z
    .number({ error: 'interactionsPerUserPerDay must be a number' })
    .int('interactionsPerUserPerDay must be a whole number')
    .min(0, 'interactionsPerUserPerDay must not be negative')
    .max(10_000, 'interactionsPerUserPerDay can be at most 10,000'),
});

export const ZPlannerInput = z
  .union([ZPlannerProfileInput, ZPlannerCustomInput], {
    error: 'give either a profile (light, medium, heavy) or promptTokens, completionTokens and interactionsPerUserPerDay',
  })
  .refine(
    (input) => {
      const p = profileOf(input);
      return (
        BigInt(input.users) * BigInt(p.promptTokens + p.completionTokens) * BigInt(p.interactionsPerUserPerDay) * BigInt(PLANNER_DAYS_PER_MONTH) <=
        BigInt(PLANNER_MAX_TOKENS_PER_MONTH)
      );
    },
    { message: 'that is more than 10^15 tokens a month; lower the users or the tokens', path: ['users'] },
  );

export type TPlannerInput = z.infer<typeof ZPlannerInput>;

/** The profile an input describes: a named one, or its custom figures. */
export function profileOf(input: TPlannerInput): TUsageProfile & { profile: TPlannerProfileId | 'custom' } {
  if ('profile' in input) return { profile: input.profile, ...PLANNER_PROFILES[input.profile] };
  return {
    profile: 'custom',
    promptTokens: input.promptTokens,
    completionTokens: input.completionTokens,
    interactionsPerUserPerDay: input.interactionsPerUserPerDay,
  };
}

/** What a token costs in an estimate: a model's two prices, or one flat price for every token. */
export type TPlannerPricing =
  | { source: 'model'; model: string; label: string; inputMicrosPerMillion: number; outputMicrosPerMillion: number }
  | { source: 'flat'; model: null; label: string; pricePer1kTokensUsd: number; inputMicrosPerMillion: number; outputMicrosPerMillion: number };

export class PlannerError extends Error {
  override readonly name = 'PlannerError';
}

/** Picks the prices: a flat price per 1k tokens wins; else the model (default: the table's first). */
export function plannerPricing(
  table: readonly Pick<TModelPrice, 'model' | 'label' | 'inputMicrosPerMillion' | 'outputMicrosPerMillion'>[],
  model: string | undefined,
  pricePer1kTokensUsd: number | undefined,
): TPlannerPricing {
  if (pricePer1kTokensUsd !== undefined) {
    // micro-USD per 1k tokens x 1000 = micro-USD per million, the table's unit.
    const perMillion = usdToMicros(pricePer1kTokensUsd) * 1000;
    return {
      source: 'flat',
      model: null,
      label: `$${pricePer1kTokensUsd} per 1k tokens`,
      pricePer1kTokensUsd,
      inputMicrosPerMillion: perMillion,
      outputMicrosPerMillion: perMillion,
    };
  }
  const entry = model === undefined ? table[0] : table.find((p) => p.model === model);
  if (!entry) throw new PlannerError(model === undefined ? 'the pricing table is empty' : `there is no price for the model "${model}"`);
  return {
    source: 'model',
    model: entry.model,
    label: entry.label ?? entry.model,
    inputMicrosPerMillion: entry.inputMicrosPerMillion,
    outputMicrosPerMillion: entry.outputMicrosPerMillion,
  };
}

function toSafe(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new PlannerError(`${what} is too large to estimate`);
  return Number(value);
}

/** ceil(tokens x price-per-million / 1e6), exact. */
function costOf(promptTokens: bigint, completionTokens: bigint, pricing: Pick<TPlannerPricing, 'inputMicrosPerMillion' | 'outputMicrosPerMillion'>): bigint {
  const numerator = promptTokens * BigInt(pricing.inputMicrosPerMillion) + completionTokens * BigInt(pricing.outputMicrosPerMillion);
  return (numerator + 999_999n) / 1_000_000n;
}

export interface TPlannerFigures {
  tokensPerDay: number;
  tokensPerMonth: number;
  costMicroUsdPerDay: number;
  costMicroUsdPerMonth: number;
}

export interface TPlannerEstimate extends TPlannerFigures {
  users: number;
  profile: TPlannerProfileId | 'custom';
  promptTokens: number;
  completionTokens: number;
  interactionsPerUserPerDay: number;
  tokensPerInteraction: number;
  tokensPerUserPerDay: number;
  promptTokensPerDay: number;
  completionTokensPerDay: number;
  costMicroUsdPerUserPerMonth: number;
  daysPerMonth: number;
  pricing: TPlannerPricing;
}

/**
 * Tokens per day and per 30-day month for `users`, and their cost. The month is
 * computed from the month's tokens (not 30 x the rounded daily cost).
 */
export function estimatePlan(input: TPlannerInput, pricing: TPlannerPricing): TPlannerEstimate {
  const p = profileOf(input);
  const interactions = BigInt(input.users) * BigInt(p.interactionsPerUserPerDay);
  const promptDay = interactions * BigInt(p.promptTokens);
  const completionDay = interactions * BigInt(p.completionTokens);
  const days = BigInt(PLANNER_DAYS_PER_MONTH);
  const perUserMonth = costOf(
    BigInt(p.promptTokens) * BigInt(p.interactionsPerUserPerDay) * days,
    BigInt(p.completionTokens) * BigInt(p.interactionsPerUserPerDay) * days,
    pricing,
  );
  return {
    users: input.users,
    profile: p.profile,
    promptTokens: p.promptTokens,
    completionTokens: p.completionTokens,
    interactionsPerUserPerDay: p.interactionsPerUserPerDay,
    tokensPerInteraction: p.promptTokens + p.completionTokens,
    tokensPerUserPerDay: (p.promptTokens + p.completionTokens) * p.interactionsPerUserPerDay,
    promptTokensPerDay: toSafe(promptDay, 'promptTokensPerDay'),
    completionTokensPerDay: toSafe(completionDay, 'completionTokensPerDay'),
    tokensPerDay: toSafe(promptDay + completionDay, 'tokensPerDay'),
    tokensPerMonth: toSafe((promptDay + completionDay) * days, 'tokensPerMonth'),
    costMicroUsdPerDay: toSafe(costOf(promptDay, completionDay, pricing), 'the daily cost'),
    costMicroUsdPerMonth: toSafe(costOf(promptDay * days, completionDay * days, pricing), 'the monthly cost'),
    costMicroUsdPerUserPerMonth: toSafe(perUserMonth, 'the cost per user'),
    daysPerMonth: PLANNER_DAYS_PER_MONTH,
    pricing,
  };
}

/**
 * What this server really saw over a window: chat usage summed per active
 * user-day (a user with at least one chat that UTC day).
 */
export interface TObservedTotals {
  windowDays: number;
  /** (user, day) pairs with at least one chat. */
  activeUserDays: number;
  /** Days in the window with any chat at all. */
  daysWithData: number;
  interactions: number;
  promptTokens: number;
  completionTokens: number;
  costMicroUsd: number;
}

export interface TObservedColumn {
  windowDays: number;
  /** False when the window has no chat: nothing to project from. */
  hasData: boolean;
  daysWithData: number;
  averages: {
    /** Per active user per day. */
    tokensPerUserPerDay: number;
    interactionsPerUserPerDay: number;
    promptTokensPerInteraction: number;
    completionTokensPerInteraction: number;
    costMicroUsdPerUserPerDay: number;
    /** Active users on an average day with data. */
    activeUsersPerDay: number;
  } | null;
  /** The window's averages applied to the requested users (null without data). */
  projection: TPlannerFigures | null;
}

function ratio(n: number, d: number, digits = 2): number {
  if (d === 0) return 0;
  const f = 10 ** digits;
  return Math.round((n / d) * f) / f;
}

/** Averages of a window, and what they mean for `users` users (cost at the prices really charged). */
export function observedColumn(totals: TObservedTotals, users: number): TObservedColumn {
  if (totals.activeUserDays === 0 || totals.interactions === 0) {
    return { windowDays: totals.windowDays, hasData: false, daysWithData: totals.daysWithData, averages: null, projection: null };
  }
  const userDays = BigInt(totals.activeUserDays);
  const tokens = BigInt(totals.promptTokens) + BigInt(totals.completionTokens);
  const n = BigInt(users);
  const days = BigInt(PLANNER_DAYS_PER_MONTH);
  const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;
  return {
    windowDays: totals.windowDays,
    hasData: true,
    daysWithData: totals.daysWithData,
    averages: {
      tokensPerUserPerDay: ratio(Number(tokens), totals.activeUserDays),
      interactionsPerUserPerDay: ratio(totals.interactions, totals.activeUserDays),
      promptTokensPerInteraction: ratio(totals.promptTokens, totals.interactions),
      completionTokensPerInteraction: ratio(totals.completionTokens, totals.interactions),
      costMicroUsdPerUserPerDay: Number(ceilDiv(BigInt(totals.costMicroUsd), userDays)),
      activeUsersPerDay: ratio(totals.activeUserDays, Math.max(1, totals.daysWithData)),
    },
    projection: {
      tokensPerDay: toSafe((tokens * n + userDays / 2n) / userDays, 'tokensPerDay'),
      tokensPerMonth: toSafe((tokens * n * days + userDays / 2n) / userDays, 'tokensPerMonth'),
      costMicroUsdPerDay: toSafe(ceilDiv(BigInt(totals.costMicroUsd) * n, userDays), 'the daily cost'),
      costMicroUsdPerMonth: toSafe(ceilDiv(BigInt(totals.costMicroUsd) * n * days, userDays), 'the monthly cost'),
    },
  };
}

/** An estimate's cost for people: to the cent from a dollar up, to a hundredth of a cent below. */
export function formatPlannerCost(micros: number): string {
  return formatMicroUsd(micros, { maxFractionDigits: micros >= 1_000_000 ? 2 : 4 });
}
