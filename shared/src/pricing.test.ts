import { describe, expect, it } from 'vitest';
import { costMicroUsd, ttsCostMicroUsd } from './money.ts';
import {
  DEFAULT_PRICING_TABLE,
  DEFAULT_TTS_PRICING_TABLE,
  findTtsModelPrice,
  parsePricing,
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
    expect(issuesOf([{ ...valid, outputMicrosPerMillion: -1 }])).toEqual(['[0].outputMicrosPerMillion: outputMicrosPerMillion must not be negative']);
    expect(issuesOf([{ ...valid, inputMicrosPerMillion: 0.5 }])[0]).toMatch(/must be an integer/);
    expect(issuesOf([{ ...valid, cachedInputMicrosPerMillion: '5' }])[0]).toMatch(/cachedInputMicrosPerMillion must be a number/);
  });

  it('rejects duplicate model ids and inconsistent limits', () => {
    expect(issuesOf([valid, valid])).toEqual(['[1].model: duplicate model id "llama3.1:8b" (first at index 0)']);
    expect(issuesOf([{ ...valid, maxOutputTokens: 9000 }])).toEqual(['[0].maxOutputTokens: maxOutputTokens must not exceed contextWindow']);
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

describe('TTS prices in the pricing file', () => {
  const tts = { model: 'tts-1', kind: 'tts', microsPerMillionChars: 15_000_000 };

  it('splits chat and TTS entries; chat entries keep their shape, kind "chat" or absent', () => {
    const parsed = parsePricing([{ ...valid, kind: 'chat' }, tts, { model: 'kokoro', label: 'Kokoro', kind: 'tts', microsPerMillionChars: 0 }]);
    expect(parsed.chat).toEqual([valid]);
    expect(parsed.tts).toEqual([tts, { model: 'kokoro', label: 'Kokoro', kind: 'tts', microsPerMillionChars: 0 }]);
    expect(parsePricingTable([valid, tts])).toEqual([valid]);
  });

  it('rejects a TTS entry without a price, with a negative or fractional one, and an unknown kind', () => {
    expect(issuesOf([valid, { model: 'tts-1', kind: 'tts' }])).toEqual([
      '[1].microsPerMillionChars: microsPerMillionChars is required (a missing price is not free: write 0 explicitly for a free model)',
    ]);
    expect(issuesOf([valid, { ...tts, microsPerMillionChars: -1 }])).toEqual(['[1].microsPerMillionChars: microsPerMillionChars must not be negative']);
    expect(issuesOf([valid, { ...tts, microsPerMillionChars: 1.5 }])[0]).toMatch(/must be an integer/);
    expect(issuesOf([{ ...valid, kind: 'speech' }])).toEqual(['[0].kind: kind must be "chat" or "tts"']);
  });

  it('keeps model ids unique across kinds and still needs a chat model', () => {
    expect(issuesOf([valid, { ...tts, model: valid.model }])).toEqual([`[1].model: duplicate model id "${valid.model}" (first at index 0)`]);
    expect(issuesOf([tts])).toEqual(['(root): the pricing table must list at least one chat model']);
  });

  it("carries OpenAI's published TTS prices", () => {
    expect(findTtsModelPrice(DEFAULT_TTS_PRICING_TABLE, 'tts-1')?.microsPerMillionChars).toBe(15_000_000);
    expect(findTtsModelPrice(DEFAULT_TTS_PRICING_TABLE, 'tts-1-hd')?.microsPerMillionChars).toBe(30_000_000);
    expect(findTtsModelPrice(DEFAULT_TTS_PRICING_TABLE, 'gpt-4o-mini-tts')?.microsPerMillionChars).toBe(15_000_000);
    expect(Object.isFrozen(DEFAULT_TTS_PRICING_TABLE) && DEFAULT_TTS_PRICING_TABLE.every((e) => Object.isFrozen(e))).toBe(true);
  });

  it('charges ceil(chars x price / 1e6): never below the exact price, at most 1 micro-USD above', () => {
    expect(ttsCostMicroUsd(1_000, 15_000_000)).toBe(15_000);
    expect(ttsCostMicroUsd(1, 15_000_000)).toBe(15);
    expect(ttsCostMicroUsd(7, 123_457)).toBe(1); // 0.864199 -> 1
    expect(ttsCostMicroUsd(333, 12_345_678)).toBe(4_112); // 4111.110774 -> 4112
    expect(ttsCostMicroUsd(81, 12_345_679)).toBe(1_000); // 999.999999 -> 1000
    expect(ttsCostMicroUsd(0, 30_000_000)).toBe(0);
    expect(ttsCostMicroUsd(5_000, 0)).toBe(0);
    expect(() => ttsCostMicroUsd(-1, 1)).toThrow(RangeError);
  });
});
