import { describe, expect, it } from 'vitest';
import { announcedReadings, periodKey, quotaAlertText, reachedThresholds, thresholdToAnnounce, type QuotaReading } from './quota-alerts.ts';

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
  const reading = {
    kind: 'messages_day' as const,
    used: 16,
    limit: 20,
    periodStart: new Date('2026-11-23T00:00:00Z'),
    resetAt: new Date('2026-11-24T00:00:00Z'),
  };

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

describe('thresholdToAnnounce', () => {
  it.each([
    [3, 5, undefined],
    [4, 5, 80],
    // 4 -> 5 of 5 crosses 90 and 100 at once: only 100 is announced, never "90 %: 5 of 5".
    [5, 5, 100],
    [18, 20, 90],
    [17, 20, 80],
    [9, 0, undefined],
  ])('%i of %i -> %s', (used, limit, expected) => {
    expect(thresholdToAnnounce(used, limit)).toBe(expected);
  });
});

describe('announcedReadings', () => {
  const at = new Date('2026-11-23T10:00:00Z');
  const reading = (kind: QuotaReading['kind'], used: number, limit: number): QuotaReading => ({ kind, used, limit, periodStart: at, resetAt: at });

  it('leaves out the hourly cap when it is not below the daily one (the guest plan: 5 and 5)', () => {
    const kinds = announcedReadings([reading('messages_day', 4, 5), reading('messages_hour', 4, 5), reading('tokens_month', 100, 10_000)]).map((r) => r.kind);
    expect(kinds).toEqual(['messages_day', 'tokens_month']);
  });

  it('keeps the hourly cap below the daily one, except while the day is used up', () => {
    expect(announcedReadings([reading('messages_day', 16, 20), reading('messages_hour', 8, 10)]).map((r) => r.kind)).toEqual(['messages_day', 'messages_hour']);
    expect(announcedReadings([reading('messages_day', 20, 20), reading('messages_hour', 10, 10)]).map((r) => r.kind)).toEqual(['messages_day']);
  });

  it('the text of an announced threshold matches its numbers', () => {
    const text = quotaAlertText(reading('messages_day', 5, 5), thresholdToAnnounce(5, 5)!, 'Guest');
    expect(text.title).toBe("You have used all of today's messages");
    expect(text.body).toContain('5 of 5 messages on the Guest plan');
  });
});

describe('credits taking over the monthly tokens', () => {
  const at = new Date('2026-11-01T00:00:00Z');
  const tokens: QuotaReading = { kind: 'tokens_month', used: 99_400, limit: 100_000, periodStart: at, resetAt: new Date('2026-12-01T00:00:00Z') };

  it('announces 100 % once credits funded a message, although the counter stopped short of the limit', () => {
    // Without credits 99.4 % is 90 %; once a message was paid by credits, the allowance is done with.
    expect(thresholdToAnnounce(tokens.used, tokens.limit)).toBe(90);
    expect(thresholdToAnnounce(tokens.used, tokens.limit, true)).toBe(100);
    // A plan without tokens (limit 0) announces nothing, credits or not.
    expect(thresholdToAnnounce(10, 0, true)).toBeUndefined();
  });

  it('says that credits now pay, with the real numbers', () => {
    const text = quotaAlertText({ ...tokens, exhausted: true }, 100, 'Pro');
    expect(text.title).toBe("You have used this period's tokens: credits now pay for your messages");
    expect(text.body).toContain('99,400 of 100,000 tokens on the Pro plan');
    expect(text.body).toContain('credits pay for further messages');
  });
});

describe('cost allowances', () => {
  const at = new Date('2026-11-01T00:00:00Z');
  const reading = (kind: QuotaReading['kind'], used: number, limit: number): QuotaReading => ({
    kind,
    used,
    limit,
    periodStart: at,
    resetAt: new Date('2026-12-01T00:00:00Z'),
  });

  it("words the plan's cost cap and the personal limit in dollars", () => {
    expect(quotaAlertText(reading('cost_month', 4_000_000, 5_000_000), 80, 'Pro')).toEqual({
      title: "You have used 80% of this period's spending allowance",
      body: '$4.00 of $5.00 in provider cost on the Pro plan. Resets 1 Dec 2026, 00:00 UTC.',
    });
    const personal = quotaAlertText(reading('spend_limit', 2_600_000, 2_000_000), 100, 'Pro');
    expect(personal.title).toBe('You have used all of your monthly spending limit');
    expect(personal.body).toContain('$2.00 of the $2.00 you set as your limit.');
    expect(personal.body).toContain('Raise or remove your limit');
  });

  it('leaves out a personal limit that is not below the plan’s cap (the plan’s stops first)', () => {
    const kinds = (limit: number) => announcedReadings([reading('cost_month', 1, 5_000_000), reading('spend_limit', 1, limit)]).map((r) => r.kind);
    expect(kinds(5_000_000)).toEqual(['cost_month']);
    expect(kinds(4_999_999)).toEqual(['cost_month', 'spend_limit']);
    // A plan without a cost cap: the personal limit is the only one.
    expect(announcedReadings([reading('cost_month', 1, 0), reading('spend_limit', 1, 9_000_000)]).map((r) => r.kind)).toEqual(['cost_month', 'spend_limit']);
  });
});
