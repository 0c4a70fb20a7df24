import { describe, expect, it } from 'vitest';
import { capUsdText, describeChange, describeMargin, formatCompact, formatCost, formatDay, formatShare, parseCapUsd } from './admin-format.ts';

describe('admin formatting', () => {
  it('days, money, counts and shares', () => {
    expect(formatDay('2026-06-20')).toBe('20 Jun');
    expect(formatCost(1_234_560_000)).toBe('$1,234.56');
    expect(formatCost(4_200)).toBe('$0.0042');
    expect(formatCost(0)).toBe('$0.00');
    expect(formatCompact(999)).toBe('999');
    expect(formatCompact(12_345)).toBe('12.3k');
    expect(formatCompact(2_000_000)).toBe('2M');
    expect(formatShare(0.854)).toBe('85 %');
  });

  it('describes audit changes by what differs', () => {
    expect(describeChange({ plan: 'free' }, { plan: 'pro' })).toEqual(['plan: free → pro']);
    expect(describeChange({ role: 'user' }, { role: 'support' })).toEqual(['role: user → support']);
    expect(describeChange({ killSwitch: false, maxTokensPerDay: 5 }, { killSwitch: true, maxTokensPerDay: 5 })).toEqual(['kill switch: off → on']);
    expect(describeChange({ killSwitch: false, maxTokensPerDay: null }, { killSwitch: false, maxTokensPerDay: 1000 })).toEqual(['daily cap: default → 1,000']);
    expect(describeChange({ balanceTokens: 300 }, { balanceTokens: 0, requestedTokens: -1000, appliedTokens: -300 })).toEqual([
      'credits: 300 → 0',
      'asked -1,000, applied -300',
    ]);
    expect(describeChange(null, { conversations: 2, usageEvents: 5 })).toEqual(['conversations: 2', 'usageEvents: 5']);
    expect(
      describeChange(
        { killSwitch: false, maxCostPerDayMicroUsd: null, maxCostPerMonthMicroUsd: 200_000_000 },
        { killSwitch: false, maxCostPerDayMicroUsd: 12_500_000, maxCostPerMonthMicroUsd: null },
      ),
    ).toEqual(['daily dollar cap: default → $12.50', 'monthly dollar cap: $200.00 → default']);
  });

  it('reads a dollar cap as whole micro-USD, empty as the default, and writes it back', () => {
    expect(parseCapUsd('')).toEqual({ ok: true, micros: null });
    expect(parseCapUsd('  ')).toEqual({ ok: true, micros: null });
    expect(parseCapUsd('25')).toEqual({ ok: true, micros: 25_000_000 });
    expect(parseCapUsd('$1,250.50')).toEqual({ ok: true, micros: 1_250_500_000 });
    expect(parseCapUsd('0.000001')).toEqual({ ok: true, micros: 1 });
    expect(parseCapUsd('0')).toEqual({ ok: true, micros: 0 });
    for (const bad of ['-5', '0.0000001', '1e3', 'abc', '1.2.3', '1234567890']) expect(parseCapUsd(bad).ok, bad).toBe(false);
    expect(capUsdText(null)).toBe('');
    expect(capUsdText(1_250_500_000)).toBe('1250.5');
    expect(capUsdText(25_000_000)).toBe('25');
    expect(capUsdText(1)).toBe('0.000001');
    for (const micros of [0, 1, 999_999, 1_000_000, 123_456_789, 999_999_999_999_999]) expect(parseCapUsd(capUsdText(micros))).toEqual({ ok: true, micros });
  });

  it('says whether revenue covers the projected cost', () => {
    expect(describeMargin(5_000_000)).toEqual({ text: '$5.00 margin', tone: 'good' });
    expect(describeMargin(-250_000)).toEqual({ text: '$0.25 short', tone: 'bad' });
  });
});
