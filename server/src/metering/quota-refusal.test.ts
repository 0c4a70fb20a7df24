import { describe, expect, it } from 'vitest';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import { exhaustedLimits, longestBlock, quotaRefusal, type QuotaSnapshot } from './quota-refusal.ts';

const plan = (id: string) => DEFAULT_PLANS.find((p) => p.id === id)!;
const now = new Date('2026-12-05T18:48:00Z');
const month = { start: new Date('2026-12-01T00:00:00Z'), end: new Date('2027-01-01T00:00:00Z') };
const none: QuotaSnapshot = {
  messagesHour: 0,
  messagesDay: 0,
  networkMessagesDay: 0,
  tokensMonth: 0,
  creditTokens: 0,
  costMonth: 0,
  spendMonth: 0,
  personalLimit: null,
};
const guest = { isGuest: true, plan: plan('guest'), guestPlan: plan('guest'), month, tokensNeeded: 100, costNeeded: 50, now };
const free = { ...guest, isGuest: false, plan: plan('free') };

describe('exhaustedLimits and longestBlock', () => {
  it('a guest with the hour and the day used up is blocked until midnight UTC, by the day', () => {
    const limits = exhaustedLimits({ ...none, messagesHour: 5, messagesDay: 5, networkMessagesDay: 5 }, guest);
    expect(limits.map((l) => l.limit)).toEqual(['messagesPerHour', 'messagesPerDay', 'networkMessagesPerDay']);
    expect(longestBlock(limits)).toEqual({ limit: 'messagesPerDay', resetAt: new Date('2026-12-06T00:00:00Z') });
  });

  it('in the last hour of the day (the hour and the day both end at midnight) the day is named, whatever the order', () => {
    const late = { ...guest, now: new Date('2026-12-05T23:47:00Z') };
    const limits = exhaustedLimits({ ...none, messagesHour: 5, messagesDay: 5 }, late);
    const midnight = new Date('2026-12-06T00:00:00Z');
    expect(limits.every((l) => l.resetAt.getTime() === midnight.getTime())).toBe(true);
    expect(longestBlock(limits)).toEqual({ limit: 'messagesPerDay', resetAt: midnight });
    expect(longestBlock([...limits].reverse())).toEqual({ limit: 'messagesPerDay', resetAt: midnight });
  });

  it('only the hour used up: the next hour', () => {
    expect(longestBlock(exhaustedLimits({ ...none, messagesHour: 10, messagesDay: 10 }, free))).toEqual({
      limit: 'messagesPerHour',
      resetAt: new Date('2026-12-05T19:00:00Z'),
    });
  });

  it("the month's tokens used up outlast the day; credits that cover the request lift the token block", () => {
    const snapshot = { ...none, messagesHour: 10, messagesDay: 20, tokensMonth: 99_950 };
    expect(longestBlock(exhaustedLimits(snapshot, free))).toEqual({ limit: 'tokensPerMonth', resetAt: month.end });
    expect(longestBlock(exhaustedLimits({ ...snapshot, creditTokens: 5_000 }, free))).toEqual({
      limit: 'messagesPerDay',
      resetAt: new Date('2026-12-06T00:00:00Z'),
    });
    expect(longestBlock(exhaustedLimits({ ...snapshot, creditTokens: 50 }, free))).toEqual({ limit: 'credits', resetAt: month.end });
  });

  it("the plan's dollar cap used up blocks until the period ends unless credits cover the reply; the personal limit blocks whatever pays", () => {
    const pro = { ...free, plan: plan('pro') };
    const capped = { ...none, costMonth: 5_000_000 - 49 };
    expect(longestBlock(exhaustedLimits(capped, pro))).toEqual({ limit: 'costPerMonth', resetAt: month.end });
    expect(longestBlock(exhaustedLimits({ ...capped, costMonth: 5_000_000 - 50 }, pro))).toBeUndefined();
    expect(longestBlock(exhaustedLimits({ ...capped, creditTokens: 5_000 }, pro))).toBeUndefined();
    const personal = { ...none, personalLimit: 1_000_000, spendMonth: 999_990, creditTokens: 5_000 };
    expect(longestBlock(exhaustedLimits(personal, pro))).toEqual({ limit: 'personalSpendLimit', resetAt: month.end });
    expect(exhaustedLimits({ ...personal, personalLimit: null }, pro)).toEqual([]);
  });

  it('nothing exhausted: no block', () => {
    expect(longestBlock(exhaustedLimits({ ...none, messagesHour: 4, messagesDay: 4 }, guest))).toBeUndefined();
  });
});

describe('quotaRefusal', () => {
  it('names the limit, and its wait is the real one', () => {
    const error = quotaRefusal({ limit: 'messagesPerDay', resetAt: new Date('2026-12-06T00:00:00Z') }, free);
    expect(error.reason).toBe('quota_exhausted');
    expect(error.message).toBe("You have used today's 20 messages.");
    expect(error.details).toEqual({ limit: 'messagesPerDay', resetAt: new Date('2026-12-06T00:00:00Z'), retryAfterSeconds: 5 * 3600 + 12 * 60, upgrade: true });
  });

  it('the dollar limits say which one, and the personal one offers no upgrade', () => {
    const pro = { ...free, plan: plan('pro') };
    const cap = quotaRefusal({ limit: 'costPerMonth', resetAt: month.end }, pro);
    expect(cap.message).toContain('$5.00');
    expect(cap.details).toMatchObject({ limit: 'costPerMonth', upgrade: true });
    const own = quotaRefusal({ limit: 'personalSpendLimit', resetAt: month.end }, pro);
    expect(own.reason).toBe('quota_exhausted');
    expect(own.details).toMatchObject({ limit: 'personalSpendLimit', upgrade: false, resetAt: month.end });
  });

  it('credits that do not cover the message are credits_exhausted', () => {
    expect(quotaRefusal({ limit: 'credits', resetAt: month.end }, free).reason).toBe('credits_exhausted');
  });
});
