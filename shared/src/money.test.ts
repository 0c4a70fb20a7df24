import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  centsToMicros,
  costMicroUsd,
  exactCostNumerator,
  formatMicroUsd,
  microsToCents,
  microsToUsd,
  usdToMicros,
  sumUsdToMicrosRounded,
  usdToMicrosRounded,
  type TokenPrice,
} from './money.ts';

const gpt4oMini: TokenPrice = {
  inputMicrosPerMillion: 150_000,
  cachedInputMicrosPerMillion: 75_000,
  outputMicrosPerMillion: 600_000,
};

describe('usdToMicros / microsToUsd', () => {
  it('converts exactly, without float error', () => {
    expect(usdToMicros(0.15)).toBe(150_000);
    expect(usdToMicros('0.075')).toBe(75_000);
    expect(usdToMicros(0.8)).toBe(800_000);
    // float arithmetic leaks through instead of being silently rounded: do sums in micros
    expect(() => usdToMicros(0.1 + 0.7)).toThrow(/finer than one micro-USD/);
  });

  it('rejects amounts finer than one micro-USD or not numbers', () => {
    expect(() => usdToMicros('0.0000001')).toThrow(/finer than one micro-USD/);
    expect(() => usdToMicros(1e-7)).toThrow(/finer than one micro-USD/);
    expect(() => usdToMicros('abc')).toThrow(/Not a decimal/);
    expect(() => usdToMicros(Number.NaN)).toThrow(/finite/);
  });

  it('handles signs, whole dollars and trailing zeros', () => {
    expect(usdToMicros('-3.000001')).toBe(-3_000_001);
    expect(usdToMicros(12)).toBe(12_000_000);
    expect(usdToMicros('1.500000000')).toBe(1_500_000);
    expect(microsToUsd(123)).toBeCloseTo(0.000123, 12);
  });
});

describe('cents at the Stripe boundary', () => {
  it('centsToMicros is exact', () => {
    expect(centsToMicros(499)).toBe(4_990_000);
  });

  it('microsToCents rounds up', () => {
    expect(microsToCents(0)).toBe(0);
    expect(microsToCents(1)).toBe(1);
    expect(microsToCents(10_000)).toBe(1);
    expect(microsToCents(10_001)).toBe(2);
    expect(microsToCents(-15_000)).toBe(-1);
    expect(microsToCents(Number.MAX_SAFE_INTEGER)).toBe(900_719_925_475);
  });

  it('round-trips cents', () => {
    fc.assert(fc.property(fc.integer({ min: -1e9, max: 1e9 }), (cents) => microsToCents(centsToMicros(cents)) === cents));
  });
});

describe('formatMicroUsd', () => {
  it('formats small and large amounts sensibly and exactly', () => {
    expect(formatMicroUsd(0)).toBe('$0.00');
    expect(formatMicroUsd(123)).toBe('$0.000123');
    expect(formatMicroUsd(150_000)).toBe('$0.15');
    expect(formatMicroUsd(1_500_000)).toBe('$1.50');
    expect(formatMicroUsd(1_234_567)).toBe('$1.234567');
    expect(formatMicroUsd(1_234_500_000)).toBe('$1,234.50');
    expect(formatMicroUsd(-20_000)).toBe('-$0.02');
  });

  it('rounds half away from zero when asked for fewer digits', () => {
    expect(formatMicroUsd(1_234_567, { maxFractionDigits: 2 })).toBe('$1.23');
    expect(formatMicroUsd(1_235_000, { maxFractionDigits: 2 })).toBe('$1.24');
    expect(formatMicroUsd(-1_235_000, { maxFractionDigits: 2 })).toBe('-$1.24');
    expect(formatMicroUsd(4_000, { maxFractionDigits: 2 })).toBe('$0.00');
    expect(() => formatMicroUsd(1, { maxFractionDigits: 7 })).toThrow(RangeError);
  });
});

describe('costMicroUsd', () => {
  it('charges the exact amount when it is whole', () => {
    // 1M prompt + 1M completion tokens of gpt-4o-mini = $0.15 + $0.60
    expect(costMicroUsd({ promptTokens: 1_000_000, completionTokens: 1_000_000 }, gpt4oMini)).toBe(750_000);
  });

  it('rounds the total up once', () => {
    // 10 prompt tokens * 0.15 micro + 5 completion * 0.6 micro = 1.5 + 3 = 4.5 -> 5
    expect(costMicroUsd({ promptTokens: 10, completionTokens: 5 }, gpt4oMini)).toBe(5);
    // per-part rounding would give ceil(0.15) + ceil(0.6) = 2; the total is 0.75 -> 1
    expect(costMicroUsd({ promptTokens: 1, completionTokens: 1 }, gpt4oMini)).toBe(1);
  });

  it('charges cached prompt tokens at the cached rate, else at the input rate', () => {
    const usage = { promptTokens: 1_000_000, completionTokens: 0, cachedPromptTokens: 400_000 };
    expect(costMicroUsd(usage, gpt4oMini)).toBe(600_000 * 0.15 + 400_000 * 0.075);
    const { cachedInputMicrosPerMillion: _omit, ...noCachedRate } = gpt4oMini;
    expect(costMicroUsd(usage, noCachedRate)).toBe(150_000);
  });

  it('zero usage and zero prices cost nothing', () => {
    expect(costMicroUsd({ promptTokens: 0, completionTokens: 0 }, gpt4oMini)).toBe(0);
    expect(costMicroUsd({ promptTokens: 5, completionTokens: 5 }, { inputMicrosPerMillion: 0, outputMicrosPerMillion: 0 })).toBe(0);
  });

  it('rejects impossible usage or prices', () => {
    expect(() => costMicroUsd({ promptTokens: -1, completionTokens: 0 }, gpt4oMini)).toThrow(RangeError);
    expect(() => costMicroUsd({ promptTokens: 1.5, completionTokens: 0 }, gpt4oMini)).toThrow(RangeError);
    expect(() => costMicroUsd({ promptTokens: 1, completionTokens: 0, cachedPromptTokens: 2 }, gpt4oMini)).toThrow(/exceeds/);
    expect(() => costMicroUsd({ promptTokens: 1, completionTokens: 0 }, { ...gpt4oMini, inputMicrosPerMillion: -1 })).toThrow(RangeError);
  });

  const tokens = fc.integer({ min: 0, max: 50_000_000 });
  const rate = fc.integer({ min: 0, max: 200_000_000 }); // up to $200 per 1M tokens
  const priceArb = fc.record(
    { inputMicrosPerMillion: rate, outputMicrosPerMillion: rate, cachedInputMicrosPerMillion: rate },
    { requiredKeys: ['inputMicrosPerMillion', 'outputMicrosPerMillion'] },
  );
  const usageArb = fc
    .record({ promptTokens: tokens, completionTokens: tokens, cachedShare: fc.double({ min: 0, max: 1, noNaN: true }) })
    .map(({ promptTokens, completionTokens, cachedShare }) => ({
      promptTokens,
      completionTokens,
      cachedPromptTokens: Math.floor(promptTokens * cachedShare),
    }));

  it('is never negative and never undercharges the exact rational cost (by less than 1 micro-USD)', () => {
    fc.assert(
      fc.property(usageArb, priceArb, (usage, price) => {
        const cost = costMicroUsd(usage, price);
        const exactTimesMillion = exactCostNumerator(usage, price);
        const chargedTimesMillion = BigInt(cost) * 1_000_000n;
        return Number.isSafeInteger(cost) && cost >= 0 && chargedTimesMillion >= exactTimesMillion && chargedTimesMillion - exactTimesMillion < 1_000_000n;
      }),
      { numRuns: 2000 },
    );
  });

  it('is monotone in every token count', () => {
    fc.assert(
      fc.property(usageArb, priceArb, fc.nat(1_000_000), fc.nat(1_000_000), (usage, price, morePrompt, moreCompletion) => {
        const base = costMicroUsd(usage, price);
        return (
          costMicroUsd({ ...usage, promptTokens: usage.promptTokens + morePrompt }, price) >= base &&
          costMicroUsd({ ...usage, completionTokens: usage.completionTokens + moreCompletion }, price) >= base
        );
      }),
      { numRuns: 1000 },
    );
  });

  it('agrees with a decimal reference computation', () => {
    fc.assert(
      fc.property(usageArb, priceArb, (usage, price) => {
        const cached = usage.cachedPromptTokens;
        const cachedRate = price.cachedInputMicrosPerMillion ?? price.inputMicrosPerMillion;
        const exact =
          BigInt(usage.promptTokens - cached) * BigInt(price.inputMicrosPerMillion) +
          BigInt(cached) * BigInt(cachedRate) +
          BigInt(usage.completionTokens) * BigInt(price.outputMicrosPerMillion);
        const reference = exact / 1_000_000n + (exact % 1_000_000n === 0n ? 0n : 1n);
        return BigInt(costMicroUsd(usage, price)) === reference;
      }),
    );
  });
});

describe('usdToMicrosRounded (provider-reported amounts)', () => {
  it('converts the Costs API example and long decimals', () => {
    expect(usdToMicrosRounded(0.06)).toBe(60_000);
    expect(usdToMicrosRounded(12.3456789)).toBe(12_345_679);
    expect(usdToMicrosRounded('12.3456789')).toBe(12_345_679);
    expect(usdToMicrosRounded(0)).toBe(0);
    expect(usdToMicrosRounded(1234.5)).toBe(1_234_500_000);
  });

  it('rounds half away from zero on the decimal digits, not on a float product', () => {
    // Float multiplication gives 500000.49999999994 and 4000.4999999999995 here.
    expect(Math.round(0.5000005 * 1_000_000)).toBe(500_000);
    expect(usdToMicrosRounded(0.5000005)).toBe(500_001);
    expect(usdToMicrosRounded(0.0040005)).toBe(4_001);
    expect(usdToMicrosRounded(0.0000005)).toBe(1);
    expect(usdToMicrosRounded(0.00000049)).toBe(0);
    expect(usdToMicrosRounded(-0.0000005)).toBe(-1);
    expect(usdToMicrosRounded(-0.0000004)).toBe(0);
    expect(Object.is(usdToMicrosRounded(-0.0000004), -0)).toBe(false);
  });

  it('reads exponent forms (1e-7 and friends)', () => {
    expect(String(1e-7)).toBe('1e-7');
    expect(usdToMicrosRounded(1e-7)).toBe(0);
    expect(usdToMicrosRounded(5e-7)).toBe(1);
    expect(usdToMicrosRounded(1.5e-6)).toBe(2);
    expect(usdToMicrosRounded('2.5E+3')).toBe(2_500_000_000);
    expect(usdToMicrosRounded(1e-300)).toBe(0);
  });

  it('agrees with exact rounding of the decimal text for any 9-decimal amount', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.boolean(), (nanos, negative) => {
        const text = `${negative ? '-' : ''}${nanos / 1_000_000_000n}.${(nanos % 1_000_000_000n).toString().padStart(9, '0')}`;
        const expected = (nanos + 500n) / 1000n;
        const got = usdToMicrosRounded(text);
        expect(got).toBe(expected === 0n ? 0 : Number(negative ? -expected : expected));
      }),
    );
  });

  it('sums several amounts exactly and rounds once', () => {
    // Each rounds to 0 alone; together they are 1.2 micro-USD.
    expect([0.0000004, 0.0000004, 0.0000004].map(usdToMicrosRounded)).toEqual([0, 0, 0]);
    expect(sumUsdToMicrosRounded([0.0000004, 0.0000004, 0.0000004])).toBe(1);
    expect(sumUsdToMicrosRounded([0.06, '12.3456789', 1e-7, -0.01])).toBe(12_395_679);
    expect(sumUsdToMicrosRounded([0.1, 0.2])).toBe(300_000);
    expect(sumUsdToMicrosRounded([])).toBe(0);
  });

  it('refuses what is not a finite decimal amount', () => {
    for (const bad of ['', '.', 'abc', '1,5', '$1', '1e', '0x10', NaN, Infinity, '1e400']) {
      expect(() => usdToMicrosRounded(bad as number | string), String(bad)).toThrow(RangeError);
    }
  });
});
