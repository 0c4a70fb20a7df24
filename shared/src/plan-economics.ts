// Plan economics: what one user of a plan can cost in provider fees at most in a
// billing period, and what is left of the plan's price. Pure, shared by the server
// (the start-up log, admin.planEconomics, planner.worstCase) and the client.
//
// The rule (docs/architecture.md, "Plan economics"): every token of the month's
// allowance billed at the plan's most expensive output price (reasoning is billed as
// output), plus the daily speech allowance for 31 days at the deployment's TTS price,
// the sum capped by `limits.costPerMonthMicroUsd` when the plan has one (the cap counts
// chat and paid speech alike). Integer micro-USD, each part rounded up once, so the
// bound is never below what it bounds.
import { z } from 'zod';
import { centsToMicros, costMicroUsd, ttsCostMicroUsd } from './money.ts';
import type { TPlan } from './plans.ts';
import type { TModelPrice } from './pricing.ts';

/** `planner.worstCase` input: a plan id of the plan table. */
export const ZPlanWorstCaseInput = z.object({ plan: z.string().trim().min(1, 'plan is required').max(32, 'plan ids are at most 32 characters') });

/** A billing period is at most 31 days (a calendar month, or a Stripe period). */
export const ECONOMICS_DAYS_PER_PERIOD = 31;

export type TEconomicsModelPrice = Pick<TModelPrice, 'model' | 'inputMicrosPerMillion' | 'outputMicrosPerMillion'> & { label?: string | undefined };

export interface TEconomicsPricing {
  /** The chat models' prices (the deployment's pricing table). */
  chat: readonly TEconomicsModelPrice[];
  /** The speech engine's price: null when speech costs nothing in dollars (the built-in espeak-ng worker). */
  tts: { model: string; microsPerMillionChars: number } | null;
}

export interface TPlanWorstCase {
  plan: string;
  name: string;
  priceMonthlyCents: number;
  /** null: the plan is not sold by the year. */
  priceYearlyCents: number | null;
  /** The monthly price in micro-USD. */
  priceMonthlyMicroUsd: number;
  /** A twelfth of the yearly price, rounded down (the revenue side is never overstated); null without a yearly price. */
  yearlyMonthlyEquivalentMicroUsd: number | null;
  /** The plan's priced model whose dearest token costs most (see `tokenRate`), null when none is priced. */
  model: { model: string; label: string; inputMicrosPerMillion: number; outputMicrosPerMillion: number } | null;
  /** The price every token of the allowance is counted at: the model's output price (its input price if a table says that is higher). */
  tokenMicrosPerMillion: number;
  /** Models of the plan with no price here: they cannot be served, so they cost nothing. */
  unpricedModels: string[];
  tokensPerMonth: number;
  /** tokensPerMonth at tokenMicrosPerMillion. */
  chatCostMicroUsd: number;
  /** null when speech is free in dollars here. */
  tts: { model: string; charsPerDay: number; charsPerPeriod: number; microsPerMillionChars: number; costMicroUsd: number } | null;
  /** Chat plus speech, before the plan's cap. */
  uncappedCostMicroUsd: number;
  /** `limits.costPerMonthMicroUsd` (null: no cap). */
  capMicroUsd: number | null;
  /** True when the cap, not the allowances (tokens and speech characters), decides the worst case. */
  capped: boolean;
  /** What one user can cost in provider fees in a period, at most. */
  worstCaseMicroUsd: number;
  /** priceMonthlyMicroUsd - worstCaseMicroUsd (negative: a loss). */
  marginMicroUsd: number;
  /** yearlyMonthlyEquivalentMicroUsd - worstCaseMicroUsd; null without a yearly price. */
  yearlyMarginMicroUsd: number | null;
  /** A paid plan whose worst case is above what it brings in a month (monthly or yearly). */
  canLoseMoney: boolean;
}

/**
 * What a token of a model costs at most: its output price (answers and reasoning), or its
 * input price in the odd table that prices input higher. Counting every token at it bounds
 * any mix of prompt and answer.
 */
export function tokenRate(price: Pick<TEconomicsModelPrice, 'inputMicrosPerMillion' | 'outputMicrosPerMillion'>): number {
  return Math.max(price.outputMicrosPerMillion, price.inputMicrosPerMillion);
}

/** The plan's most expensive priced model (highest `tokenRate`; the first of equals in the plan's order). */
export function mostExpensiveModel(models: readonly string[], chat: readonly TEconomicsModelPrice[]): TEconomicsModelPrice | null {
  let best: TEconomicsModelPrice | null = null;
  for (const id of models) {
    const price = chat.find((p) => p.model === id);
    if (price && (!best || tokenRate(price) > tokenRate(best))) best = price;
  }
  return best;
}

/** The worst case of one plan (free plans too: their margin is simply negative when they cost anything). */
export function planWorstCase(
  plan: Pick<TPlan, 'id' | 'name' | 'priceMonthlyCents' | 'priceYearlyCents' | 'limits'>,
  pricing: TEconomicsPricing,
): TPlanWorstCase {
  const { limits } = plan;
  const model = mostExpensiveModel(limits.models, pricing.chat);
  const unpricedModels = limits.models.filter((m) => !pricing.chat.some((p) => p.model === m));
  const tokenMicrosPerMillion = model ? tokenRate(model) : 0;
  const chatCostMicroUsd = costMicroUsd(
    { promptTokens: 0, completionTokens: limits.tokensPerMonth },
    { inputMicrosPerMillion: 0, outputMicrosPerMillion: tokenMicrosPerMillion },
  );
  const charsPerPeriod = limits.ttsCharsPerDay * ECONOMICS_DAYS_PER_PERIOD;
  const tts =
    pricing.tts && pricing.tts.microsPerMillionChars > 0
      ? {
          model: pricing.tts.model,
          charsPerDay: limits.ttsCharsPerDay,
          charsPerPeriod,
          microsPerMillionChars: pricing.tts.microsPerMillionChars,
          costMicroUsd: ttsCostMicroUsd(charsPerPeriod, pricing.tts.microsPerMillionChars),
        }
      : null;
  const uncappedCostMicroUsd = chatCostMicroUsd + (tts?.costMicroUsd ?? 0);
  const capMicroUsd = limits.costPerMonthMicroUsd ?? null;
  // The plan's cap counts what its allowance pays for: chat and paid speech alike (credits are
  // bought, so what they pay for is not the founder's loss).
  const capped = capMicroUsd !== null && capMicroUsd < uncappedCostMicroUsd;
  const worstCaseMicroUsd = capped ? capMicroUsd : uncappedCostMicroUsd;
  const priceMonthlyMicroUsd = centsToMicros(plan.priceMonthlyCents);
  const priceYearlyCents = plan.priceYearlyCents && plan.priceMonthlyCents > 0 ? plan.priceYearlyCents : null;
  const yearlyMonthlyEquivalentMicroUsd = priceYearlyCents === null ? null : Math.floor(centsToMicros(priceYearlyCents) / 12);
  const marginMicroUsd = priceMonthlyMicroUsd - worstCaseMicroUsd;
  const yearlyMarginMicroUsd = yearlyMonthlyEquivalentMicroUsd === null ? null : yearlyMonthlyEquivalentMicroUsd - worstCaseMicroUsd;
  return {
    plan: plan.id,
    name: plan.name,
    priceMonthlyCents: plan.priceMonthlyCents,
    priceYearlyCents,
    priceMonthlyMicroUsd,
    yearlyMonthlyEquivalentMicroUsd,
    model: model
      ? {
          model: model.model,
          label: model.label ?? model.model,
          inputMicrosPerMillion: model.inputMicrosPerMillion,
          outputMicrosPerMillion: model.outputMicrosPerMillion,
        }
      : null,
    tokenMicrosPerMillion,
    unpricedModels,
    tokensPerMonth: limits.tokensPerMonth,
    chatCostMicroUsd,
    tts,
    uncappedCostMicroUsd,
    capMicroUsd,
    capped,
    worstCaseMicroUsd,
    marginMicroUsd,
    yearlyMarginMicroUsd,
    canLoseMoney: plan.priceMonthlyCents > 0 && (marginMicroUsd < 0 || (yearlyMarginMicroUsd !== null && yearlyMarginMicroUsd < 0)),
  };
}

/** Every paid plan's worst case, in the plan table's order. */
export function paidPlanEconomics(plans: readonly TPlan[], pricing: TEconomicsPricing): TPlanWorstCase[] {
  return plans.filter((p) => p.priceMonthlyCents > 0).map((p) => planWorstCase(p, pricing));
}
