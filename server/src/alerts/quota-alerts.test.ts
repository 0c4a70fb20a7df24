import { describe, expect, it } from 'vitest';
import { periodKey, quotaAlertText, reachedThresholds } from './quota-alerts.ts';

describe('reachedThresholds', () => {
  it.each([
    [0, 20, []],
    [15, 20, []],
    [16, 20, [80]],
    [17, 20, [80]],
    [18, 20, [80, 90]],
    [20, 20, [80, 90, 100]],
    [25, 20, [80, 90, 100]],
    [79_999, 100_000, []],
    [80_000, 100_000, [80]],
    [5, 0, []],
  ])('%i of %i -> %j', (used, limit, expected) => {
    expect(reachedThresholds(used, limit)).toEqual(expected);
  });
});

describe('quotaAlertText', () => {
  const reading = { kind: 'messages_day' as const, used: 16, limit: 20, periodStart: new Date('2026-11-23T00:00:00Z'), resetAt: new Date('2026-11-24T00:00:00Z') };

  it('says how much of which allowance, and when it resets', () => {
    expect(quotaAlertText(reading, 80, 'Free')).toEqual({
      title: "You have used 80% of today's messages",
      body: '16 of 20 messages on the Free plan. Resets 24 Nov 2026, 00:00 UTC.',
    });
  });

  it('at 100 % points to credits for tokens', () => {
    const text = quotaAlertText({ ...reading, kind: 'tokens_month', used: 100_000, limit: 100_000 }, 100, 'Free');
    expect(text.title).toBe("You have used all of this period's tokens");
    expect(text.body).toContain('100,000 of 100,000 tokens');
    expect(text.body).toContain('credit pack');
  });

  it('keys a period by its start', () => {
    expect(periodKey(reading.periodStart)).toBe('2026-11-23T00:00:00.000Z');
  });
});
