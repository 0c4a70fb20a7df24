/**
 * Keeps the built-in pricing table (shared/src/pricing.ts) traceable to gpt-tokenizer's
 * model data. Limits must equal gpt-tokenizer's `context_window` / `max_output_tokens`.
 * Prices must equal its `price_data.main` (USD per 1M tokens), except where that figure is
 * known to be missing or stale: those models are listed below with what gpt-tokenizer
 * says, so a gpt-tokenizer upgrade that changes them fails here and gets a human look.
 */
import { describe, expect, it } from 'vitest';
import * as gptTokenizerModels from 'gpt-tokenizer/models';
import { usdToMicros } from '@chatmeter/shared/money';
import { DEFAULT_PRICING_TABLE, DEMO_MODEL_ID, requireModelPrice } from '@chatmeter/shared/pricing';

interface MainPrice {
  input?: number;
  output?: number;
  cached_input?: number;
  /** gpt-tokenizer 4.0.0 files o1's (and o3's) cached input price under this name. */
  cached_output?: number;
}
interface Spec {
  context_window?: number;
  max_output_tokens?: number;
  price_data?: { main?: MainPrice };
}
const specs = gptTokenizerModels as unknown as Record<string, Spec | undefined>;

/** gpt-tokenizer 4.0.0's `price_data.main` for models whose prices come from OpenAI's price list instead. */
const PRICES_NOT_FROM_GPT_TOKENIZER: Record<string, MainPrice | null> = {
  'gpt-4o-mini': null, // no price_data; OpenAI: $0.15 in, $0.075 cached, $0.60 out
  'gpt-4.1-mini': null, // no price_data; OpenAI: $0.40 / $0.10 / $1.60
  'gpt-4.1-nano': null, // no price_data; OpenAI: $0.10 / $0.025 / $0.40
  'gpt-4o': { input: 10, output: 30 }, // GPT-4 Turbo's figure; OpenAI: $2.50 / $1.25 / $10
  'gpt-4.1': { input: 10, output: 30 }, // GPT-4 Turbo's figure; OpenAI: $2.00 / $0.50 / $8.00
  // Reasoning models (OpenAI's price list, checked 2026-12-04; docs/providers.md).
  'o1-mini': { input: 10, output: 30 }, // stale; OpenAI: $1.10 / $0.55 / $4.40 since January 2025
  o3: { input: 15, cached_output: 7.5, output: 60 }, // o1's figure; OpenAI: $2.00 / $0.50 / $8.00 since June 2025
  'o3-mini': null, // no price_data; OpenAI: $1.10 / $0.55 / $4.40
  'o4-mini': null, // no price_data; OpenAI: $1.10 / $0.275 / $4.40
  'gpt-5': { input: 10, output: 30 }, // GPT-4 Turbo's figure; OpenAI: $1.25 / $0.125 / $10.00
  'gpt-5-mini': null, // no price_data; OpenAI: $0.25 / $0.025 / $2.00
  'gpt-5-nano': null, // no price_data; OpenAI: $0.05 / $0.005 / $0.40
};

const providerModels = DEFAULT_PRICING_TABLE.filter((entry) => entry.model !== DEMO_MODEL_ID);

describe('built-in pricing table vs gpt-tokenizer model data', () => {
  it.each(providerModels.map((entry) => [entry.model, entry] as const))('%s: limits come from gpt-tokenizer', (model, entry) => {
    const spec = specs[model];
    expect(spec, `gpt-tokenizer has no spec for ${model}`).toBeDefined();
    expect(entry.contextWindow).toBe(spec!.context_window);
    expect(entry.maxOutputTokens).toBe(spec!.max_output_tokens);
  });

  it.each(providerModels.map((entry) => [entry.model, entry] as const))("%s: prices are gpt-tokenizer's or a recorded exception", (model, entry) => {
    const main = specs[model]?.price_data?.main;
    if (model in PRICES_NOT_FROM_GPT_TOKENIZER) {
      // If this fails, gpt-tokenizer's figures changed: check them against OpenAI's price
      // list and either take them (drop the exception) or update the exception.
      expect(main ?? null).toEqual(PRICES_NOT_FROM_GPT_TOKENIZER[model]);
      return;
    }
    expect(main?.input, `gpt-tokenizer has no input price for ${model}`).toBeDefined();
    expect(main?.output, `gpt-tokenizer has no output price for ${model}`).toBeDefined();
    expect(entry.inputMicrosPerMillion).toBe(usdToMicros(main!.input!));
    expect(entry.outputMicrosPerMillion).toBe(usdToMicros(main!.output!));
    const cachedInput = main?.cached_input ?? main?.cached_output;
    if (cachedInput !== undefined) {
      expect(entry.cachedInputMicrosPerMillion).toBe(usdToMicros(cachedInput));
    }
  });

  it('the demo model is priced and sized like gpt-4o-mini', () => {
    const { model: _a, label: _b, ...demo } = requireModelPrice(DEFAULT_PRICING_TABLE, DEMO_MODEL_ID);
    const { model: _c, label: _d, ...mini } = requireModelPrice(DEFAULT_PRICING_TABLE, 'gpt-4o-mini');
    expect(demo).toEqual(mini);
  });
});
