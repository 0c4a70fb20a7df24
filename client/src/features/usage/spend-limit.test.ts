import { describe, expect, it } from 'vitest';
import { describeRemainingBudget, parseSpendLimit, spendLimitInputValue } from './spend-limit.ts';

describe('parseSpendLimit', () => {
  it('turns dollars into integer micro-USD exactly', () => {
    expect(parseSpendLimit('10')).toEqual({ ok: true, micros: 10_000_000 });
    expect(parseSpendLimit('2.50')).toEqual({ ok: true, micros: 2_500_000 });
    expect(parseSpendLimit(' $0.000001 ')).toEqual({ ok: true, micros: 1 });
    // 0.1 + 0.2 in floats is 0.30000000000000004: none of that here.
    expect(parseSpendLimit('0.3')).toEqual({ ok: true, micros: 300_000 });
    expect(parseSpendLimit('19.99')).toEqual({ ok: true, micros: 19_990_000 });
    expect(parseSpendLimit('$ 5.')).toEqual({ ok: true, micros: 5_000_000 });
    expect(parseSpendLimit('.5')).toEqual({ ok: true, micros: 500_000 });
    expect(parseSpendLimit('1.2300000')).toEqual({ ok: true, micros: 1_230_000 });
  });

  it('reads an empty field as no limit', () => {
    expect(parseSpendLimit('')).toEqual({ ok: true, micros: null });
    expect(parseSpendLimit('   ')).toEqual({ ok: true, micros: null });
  });

  it('refuses zero, negative amounts, more than 6 decimals, and what is not an amount, saying why', () => {
    const error = (text: string) => {
      const result = parseSpendLimit(text);
      return result.ok ? null : result.error;
    };
    expect(error('0')).toMatch(/above \$0/);
    expect(error('0.000000')).toMatch(/above \$0/);
    expect(error('-5')).toMatch(/above \$0/);
    expect(error('0.0000001')).toMatch(/at most 6 decimals/);
    expect(error('1.2345678')).toMatch(/at most 6 decimals/);
    expect(error('ten')).toMatch(/in dollars/);
    expect(error('.')).toMatch(/in dollars/);
    expect(error('$')).toMatch(/in dollars/);
    expect(error('1e3')).toMatch(/in dollars/);
    expect(error('5 USD')).toMatch(/in dollars/);
    expect(error('1,000')).toMatch(/without commas/);
    expect(error('99999999999')).toMatch(/too large/);
  });
});

describe('spendLimitInputValue', () => {
  it('shows a saved limit as the dollars it was typed in, and nothing for none', () => {
    expect(spendLimitInputValue(12_500_000)).toBe('12.50');
    expect(spendLimitInputValue(123)).toBe('0.000123');
    expect(spendLimitInputValue(1_234_000_000)).toBe('1234.00');
    expect(spendLimitInputValue(null)).toBe('');
  });

  it('reads back as the same amount', () => {
    for (const micros of [1, 999_999, 2_500_000, 1_234_567_891]) expect(parseSpendLimit(spendLimitInputValue(micros))).toEqual({ ok: true, micros });
  });
});

describe('describeRemainingBudget', () => {
  it('says what is left, or that nothing is', () => {
    expect(describeRemainingBudget(4_870_000)).toBe('$4.87 left to spend this period.');
    expect(describeRemainingBudget(12)).toBe('$0.000012 left to spend this period.');
    expect(describeRemainingBudget(0)).toBe('Nothing left to spend this period.');
    expect(describeRemainingBudget(null)).toBeNull();
  });
});
