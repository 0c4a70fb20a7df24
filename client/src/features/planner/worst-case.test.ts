import { describe, expect, it } from 'vitest';
import { planWorstCase, type TEconomicsPricing } from '@chatmeter/shared/plan-economics';
import { DEFAULT_PLANS, type TPlan } from '@chatmeter/shared/plans';
import { DEFAULT_PRICING_TABLE } from '@chatmeter/shared/pricing';
import { defaultWorstCasePlan, marginLines, worstCaseSteps } from './worst-case.ts';

const pro = DEFAULT_PLANS.find((p) => p.id === 'pro')!;
const noSpeech: TEconomicsPricing = { chat: DEFAULT_PRICING_TABLE, tts: null };
const withSpeech: TEconomicsPricing = { chat: DEFAULT_PRICING_TABLE, tts: { model: 'tts-1', microsPerMillionChars: 15_000_000 } };
const variant = (limits: Partial<TPlan['limits']>, prices: Partial<TPlan> = {}): TPlan => ({ ...pro, ...prices, limits: { ...pro.limits, ...limits } });

describe('worstCaseSteps', () => {
  it('Pro: the allowance at gpt-4o’s output price, then the cap', () => {
    expect(worstCaseSteps(planWorstCase(pro, noSpeech))).toEqual([
      "2,000,000 tokens a month, every one at GPT-4o's output price ($10.00 per 1M tokens, its most expensive model): $20.00.",
      'The plan caps its provider cost at $5.00 a period, below the $20.00 above: $5.00.',
    ]);
  });

  it('Pro with priced speech: the cap holds chat and speech together', () => {
    expect(worstCaseSteps(planWorstCase(pro, withSpeech)).at(-1)).toBe(
      'The plan caps its provider cost (chat and speech together) at $5.00 a period, below the $43.25 above: $5.00.',
    );
  });

  it('adds priced speech; says when the cap is not reached or absent', () => {
    const steps = worstCaseSteps(planWorstCase(variant({ costPerMonthMicroUsd: 100_000_000 }), withSpeech));
    expect(steps[1]).toBe("50,000 characters of speech a day for 31 days at tts-1's price ($15.00 per 1M characters): $23.25.");
    expect(steps[2]).toBe("The plan's cap of $100.00 a period is not reached.");
    expect(worstCaseSteps(planWorstCase(variant({ costPerMonthMicroUsd: null }), noSpeech)).at(-1)).toBe('The plan has no dollar cap.');
  });

  it('names models without a price, and a plan with none priced', () => {
    const steps = worstCaseSteps(planWorstCase(variant({ models: ['local-llama'], costPerMonthMicroUsd: null }), noSpeech));
    expect(steps[0]).toBe("None of the plan's models has a price here, so its 2,000,000 tokens cannot be served: $0.00.");
    expect(steps.at(-1)).toBe('Not counted, no price here: local-llama.');
  });
});

describe('marginLines', () => {
  it('monthly and yearly, each left or short', () => {
    expect(marginLines(planWorstCase(pro, noSpeech))).toEqual([
      { label: 'Paid monthly', revenue: '$15.00', text: '$10.00 left', tone: 'good' },
      { label: 'Paid yearly', revenue: '$12.50', text: '$7.50 left', tone: 'good' },
    ]);
    expect(marginLines(planWorstCase(variant({ costPerMonthMicroUsd: 13_000_000 }), noSpeech))[1]).toEqual({
      label: 'Paid yearly',
      revenue: '$12.50',
      text: '$0.50 short',
      tone: 'bad',
    });
  });

  it('a plan not sold by the year has the monthly line only', () => {
    expect(marginLines(planWorstCase(variant({}, { priceYearlyCents: undefined }), noSpeech)).map((l) => l.label)).toEqual(['Paid monthly']);
  });
});

describe('defaultWorstCasePlan', () => {
  it('Pro first, else the cheapest paid plan, else the first plan', () => {
    expect(defaultWorstCasePlan(DEFAULT_PLANS)).toBe('pro');
    expect(
      defaultWorstCasePlan([
        { id: 'free', priceMonthlyCents: 0 },
        { id: 'team', priceMonthlyCents: 5_000 },
        { id: 'solo', priceMonthlyCents: 900 },
      ]),
    ).toBe('solo');
    expect(defaultWorstCasePlan([{ id: 'free', priceMonthlyCents: 0 }])).toBe('free');
    expect(defaultWorstCasePlan([])).toBeUndefined();
  });
});
