import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { costMicroUsd } from './money.ts';
import { mostExpensiveModel, paidPlanEconomics, planWorstCase, type TEconomicsPricing } from './plan-economics.ts';
import { DEFAULT_PLANS, type TPlan } from './plans.ts';
import { DEFAULT_PRICING_TABLE } from './pricing.ts';

const noSpeech: TEconomicsPricing = { chat: DEFAULT_PRICING_TABLE, tts: null };
const tts1: TEconomicsPricing = { chat: DEFAULT_PRICING_TABLE, tts: { model: 'tts-1', microsPerMillionChars: 15_000_000 } };
const plan = (id: string) => DEFAULT_PLANS.find((p) => p.id === id)!;

function custom(limits: Partial<TPlan['limits']>, prices: Partial<Pick<TPlan, 'priceMonthlyCents' | 'priceYearlyCents'>> = {}): TPlan {
  const pro = plan('pro');
  return { ...pro, id: 'custom', name: 'Custom', ...prices, limits: { ...pro.limits, ...limits } };
}

describe('the built-in plans', () => {
  it('Pro: 2M tokens of gpt-4o ($10 / 1M out) would cost $20; the $5 cap decides; $15 leaves $10 ($7.50 a month paid yearly)', () => {
    const pro = planWorstCase(plan('pro'), noSpeech);
    expect(pro.model).toMatchObject({ model: 'gpt-4o', outputMicrosPerMillion: 10_000_000 });
    expect(pro.tokenMicrosPerMillion).toBe(10_000_000);
    expect(pro.chatCostMicroUsd).toBe(20_000_000);
    expect(pro.tts).toBeNull();
    expect(pro.uncappedCostMicroUsd).toBe(20_000_000);
    expect(pro.capMicroUsd).toBe(5_000_000);
    expect(pro.capped).toBe(true);
    expect(pro.worstCaseMicroUsd).toBe(5_000_000);
    expect(pro.priceMonthlyMicroUsd).toBe(15_000_000);
    expect(pro.marginMicroUsd).toBe(10_000_000);
    expect(pro.yearlyMonthlyEquivalentMicroUsd).toBe(12_500_000);
    expect(pro.yearlyMarginMicroUsd).toBe(7_500_000);
    expect(pro.canLoseMoney).toBe(false);
  });

  it('Enterprise: 10M tokens of gpt-4o ($10 / 1M out, dearer than gpt-4.1) would cost $100; capped at $40 against $99', () => {
    const e = planWorstCase(plan('enterprise'), noSpeech);
    expect(e.model?.model).toBe('gpt-4o');
    expect(e.uncappedCostMicroUsd).toBe(100_000_000);
    expect(e.worstCaseMicroUsd).toBe(40_000_000);
    expect(e.marginMicroUsd).toBe(59_000_000);
    expect(e.canLoseMoney).toBe(false);
  });

  it('only the paid plans are listed, in the table’s order', () => {
    expect(paidPlanEconomics(DEFAULT_PLANS, noSpeech).map((r) => r.plan)).toEqual(['pro', 'enterprise']);
  });

  it('a free plan costs what its allowance costs, below its cap, and is never "losing money" (it has no price to lose)', () => {
    // 100k tokens of gpt-4o-mini at $0.60 / 1M = $0.06 against a $0.10 backstop.
    const free = planWorstCase(plan('free'), noSpeech);
    expect(free.worstCaseMicroUsd).toBe(60_000);
    expect(free.capped).toBe(false);
    expect(free.marginMicroUsd).toBe(-60_000);
    expect(free.yearlyMarginMicroUsd).toBeNull();
    expect(free.canLoseMoney).toBe(false);
  });
});

describe('speech', () => {
  it('a priced TTS engine adds the daily characters for 31 days to chat, and the plan cap bounds both', () => {
    // Pro: 50,000 chars a day x 31 = 1,550,000 chars at $15 / 1M = $23.25.
    const pro = planWorstCase(plan('pro'), tts1);
    expect(pro.tts).toEqual({ model: 'tts-1', charsPerDay: 50_000, charsPerPeriod: 1_550_000, microsPerMillionChars: 15_000_000, costMicroUsd: 23_250_000 });
    expect(pro.uncappedCostMicroUsd).toBe(43_250_000);
    // The voice reservation holds its cost on the plan's cost_month as chat does (metering/tts-meter.ts).
    expect(pro.capped).toBe(true);
    expect(pro.worstCaseMicroUsd).toBe(5_000_000);
  });

  it('without a cap the speech cost is part of the worst case', () => {
    const uncapped = planWorstCase(custom({ costPerMonthMicroUsd: null }), tts1);
    expect(uncapped.worstCaseMicroUsd).toBe(43_250_000);
    expect(uncapped.marginMicroUsd).toBe(15_000_000 - 43_250_000);
    expect(uncapped.canLoseMoney).toBe(true);
  });

  it('a free engine (price 0) is left out', () => {
    expect(planWorstCase(plan('pro'), { chat: DEFAULT_PRICING_TABLE, tts: { model: 'kokoro', microsPerMillionChars: 0 } }).tts).toBeNull();
  });
});

describe('losing money', () => {
  it('a paid plan whose worst case passes its monthly price can lose money', () => {
    const r = planWorstCase(custom({ costPerMonthMicroUsd: undefined }), noSpeech);
    expect(r.capMicroUsd).toBeNull();
    expect(r.worstCaseMicroUsd).toBe(20_000_000);
    expect(r.marginMicroUsd).toBe(-5_000_000);
    expect(r.canLoseMoney).toBe(true);
  });

  it('passing only the yearly price’s twelfth is a possible loss too', () => {
    // $13 worst case: under the $15 monthly price, over the $12.50 a yearly payer brings.
    const r = planWorstCase(custom({ costPerMonthMicroUsd: 13_000_000 }), noSpeech);
    expect(r.marginMicroUsd).toBe(2_000_000);
    expect(r.yearlyMarginMicroUsd).toBe(-500_000);
    expect(r.canLoseMoney).toBe(true);
  });

  it('a plan not sold by the year has no yearly figures', () => {
    const r = planWorstCase(custom({}, { priceYearlyCents: undefined }), noSpeech);
    expect(r.priceYearlyCents).toBeNull();
    expect(r.yearlyMonthlyEquivalentMicroUsd).toBeNull();
    expect(r.yearlyMarginMicroUsd).toBeNull();
  });

  it('a twelfth of a yearly price is rounded down (revenue never overstated)', () => {
    // $100.01 a year = 100,010,000 micro-USD / 12 = 8,334,166.67.
    const r = planWorstCase(custom({}, { priceYearlyCents: 10_001 }), noSpeech);
    expect(r.yearlyMonthlyEquivalentMicroUsd).toBe(8_334_166);
  });
});

describe('models', () => {
  it('the most expensive model is the one with the dearest token, whatever the order', () => {
    expect(mostExpensiveModel(['gpt-4o', 'gpt-4o-mini', 'o3'], DEFAULT_PRICING_TABLE)?.model).toBe('gpt-4o');
    expect(mostExpensiveModel(['gpt-4o-mini', 'gpt-5'], DEFAULT_PRICING_TABLE)?.model).toBe('gpt-5');
  });

  it('a table that prices input above output counts every token at the input price', () => {
    const odd = [{ model: 'odd', inputMicrosPerMillion: 9_000_000, outputMicrosPerMillion: 1_000_000 }];
    const r = planWorstCase(custom({ models: ['odd'], tokensPerMonth: 1_000_000, costPerMonthMicroUsd: null }), { chat: odd, tts: null });
    expect(r.tokenMicrosPerMillion).toBe(9_000_000);
    expect(r.worstCaseMicroUsd).toBe(9_000_000);
  });

  it('unpriced models cannot be served and are named; with none priced the chat costs nothing', () => {
    const r = planWorstCase(custom({ models: ['local-llama', 'gpt-4o-mini'] }), noSpeech);
    expect(r.unpricedModels).toEqual(['local-llama']);
    expect(r.model?.model).toBe('gpt-4o-mini');
    const none = planWorstCase(custom({ models: ['local-llama'] }), noSpeech);
    expect(none.model).toBeNull();
    expect(none.chatCostMicroUsd).toBe(0);
  });

  it('rounds a fraction of a micro-dollar up', () => {
    // 1 token at $0.60 / 1M = 0.6 micro-USD -> 1.
    const r = planWorstCase(custom({ models: ['gpt-4o-mini'], tokensPerMonth: 1, costPerMonthMicroUsd: null }), noSpeech);
    expect(r.worstCaseMicroUsd).toBe(1);
  });
});

describe('the bound', () => {
  it('no split of the allowance into prompt and answer on any of the plan’s models costs more than the uncapped worst case', () => {
    const models = DEFAULT_PRICING_TABLE.map((p) => p.model);
    fc.assert(
      fc.property(fc.subarray(models, { minLength: 1 }), fc.integer({ min: 0, max: 50_000_000 }), fc.nat(), fc.nat(), (planModels, tokens, pick, split) => {
        const r = planWorstCase(custom({ models: planModels, tokensPerMonth: tokens, costPerMonthMicroUsd: null }), noSpeech);
        const used = DEFAULT_PRICING_TABLE.find((p) => p.model === planModels[pick % planModels.length])!;
        const prompt = tokens === 0 ? 0 : split % (tokens + 1);
        const actual = costMicroUsd({ promptTokens: prompt, completionTokens: tokens - prompt }, used);
        expect(actual).toBeLessThanOrEqual(r.worstCaseMicroUsd);
      }),
    );
  });

  it('the worst case never passes the cap, and is never above the uncapped figure', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000_000 }), fc.option(fc.integer({ min: 0, max: 100_000_000 }), { nil: null }), (tokens, cap) => {
        const r = planWorstCase(custom({ tokensPerMonth: tokens, costPerMonthMicroUsd: cap }), tts1);
        expect(r.worstCaseMicroUsd).toBeLessThanOrEqual(r.uncappedCostMicroUsd);
        if (cap !== null) expect(r.worstCaseMicroUsd).toBeLessThanOrEqual(cap);
        expect(r.capped).toBe(cap !== null && cap < r.uncappedCostMicroUsd);
      }),
    );
  });
});
