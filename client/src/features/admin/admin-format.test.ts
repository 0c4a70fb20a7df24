import { describe, expect, it } from 'vitest';
import { describeChange, describeMargin, formatCompact, formatCost, formatDay, formatShare } from './admin-format.ts';

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
  });

  it('says whether revenue covers the projected cost', () => {
    expect(describeMargin(5_000_000)).toEqual({ text: '$5.00 margin', tone: 'good' });
    expect(describeMargin(-250_000)).toEqual({ text: '$0.25 short', tone: 'bad' });
  });
});
