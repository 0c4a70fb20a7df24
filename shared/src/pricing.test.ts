import { describe, expect, it } from 'vitest';
import { costMicroUsd } from './money.ts';
import {
  DEFAULT_PRICING_TABLE,
  DEMO_MODEL_ID,
  PricingTableError,
  findModelPrice,
  parsePricingTable,
  requireModelPrice,
} from './pricing.ts';

const valid = {
  model: 'llama3.1:8b',
  inputMicrosPerMillion: 0,
  outputMicrosPerMillion: 0,
  contextWindow: 8192,
  maxOutputTokens: 2048,
};

function issuesOf(input: unknown): readonly string[] {
  try {
    parsePricingTable(input);
  } catch (error) {
    expect(error).toBeInstanceOf(PricingTableError);
    return (error as PricingTableError).issues;
  }
  throw new Error('expected the table to be rejected');
}

describe('parsePricingTable', () => {
  it('accepts a valid table (object or JSON text), explicit zero prices included, and drops unknown fields', () => {
    const table = parsePricingTable([{ ...valid, stripePriceId: 'price_123' }]);
    expect(table).toEqual([valid]);
    expect(parsePricingTable(JSON.stringify([valid]))).toEqual([valid]);
  });

  it('rejects a missing price rather than treating it as free', () => {
    const { inputMicrosPerMillion: _omit, ...missing } = valid;
    expect(issuesOf([missing])).toEqual([
      '[0].inputMicrosPerMillion: inputMicrosPerMillion is required (a missing price is not free: write 0 explicitly for a free model)',
    ]);
  });

  it('rejects negative, fractional and non-numeric prices', () => {
    expect(issuesOf([{ ...valid, outputMicrosPerMillion: -1 }])).toEqual([
      '[0].outputMicrosPerMillion: outputMicrosPerMillion must not be negative',
    ]);
    expect(issuesOf([{ ...valid, inputMicrosPerMillion: 0.5 }])[0]).toMatch(/must be an integer/);
    expect(issuesOf([{ ...valid, cachedInputMicrosPerMillion: '5' }])[0]).toMatch(/cachedInputMicrosPerMillion must be a number/);
  });

  it('rejects duplicate model ids and inconsistent limits', () => {
    expect(issuesOf([valid, valid])).toEqual(['[1].model: duplicate model id "llama3.1:8b" (first at index 0)']);
    expect(issuesOf([{ ...valid, maxOutputTokens: 9000 }])).toEqual([
      '[0].maxOutputTokens: maxOutputTokens must not exceed contextWindow',
    ]);
    expect(issuesOf([{ ...valid, contextWindow: 0 }])[0]).toMatch(/contextWindow must be positive/);
  });

  it('rejects non-tables and bad JSON', () => {
    expect(issuesOf([])).toEqual(['(root): the pricing table must list at least one model']);
    expect(issuesOf({ models: [] })[0]).toMatch(/^\(root\): /);
    expect(issuesOf('{nope')[0]).toMatch(/^not valid JSON/);
  });
});

describe('DEFAULT_PRICING_TABLE', () => {
  it('has the required models with nonzero prices', () => {
    for (const model of ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini', 'gpt-4.1-nano', 'gpt-4.1', DEMO_MODEL_ID]) {
      const price = requireModelPrice(DEFAULT_PRICING_TABLE, model);
      expect(price.inputMicrosPerMillion).toBeGreaterThan(0);
      expect(price.outputMicrosPerMillion).toBeGreaterThan(0);
    }
  });

  it('prices the demo model like gpt-4o-mini', () => {
    const demo = requireModelPrice(DEFAULT_PRICING_TABLE, DEMO_MODEL_ID);
    const mini = requireModelPrice(DEFAULT_PRICING_TABLE, 'gpt-4o-mini');
    expect(demo.label).toBe('demo model');
    const { model: _a, label: _b, ...demoPrice } = demo;
    const { model: _c, label: _d, ...miniPrice } = mini;
    expect(demoPrice).toEqual(miniPrice);
    // 1,000 prompt + 500 completion tokens = 150 + 300 micro-USD
    expect(costMicroUsd({ promptTokens: 1000, completionTokens: 500 }, demo)).toBe(450);
  });

  it('cannot be modified by accident', () => {
    expect(Object.isFrozen(DEFAULT_PRICING_TABLE)).toBe(true);
    expect(DEFAULT_PRICING_TABLE.every((entry) => Object.isFrozen(entry))).toBe(true);
  });

  it('lookups', () => {
    expect(findModelPrice(DEFAULT_PRICING_TABLE, 'nope')).toBeUndefined();
    expect(() => requireModelPrice(DEFAULT_PRICING_TABLE, 'nope')).toThrow(/no price configured for model "nope"/);
  });
});
