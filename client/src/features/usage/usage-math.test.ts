import { describe, expect, it } from 'vitest';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import {
  allowanceOf,
  describeReset,
  formatCompact,
  formatIn,
  formatLimitAmount,
  formatLocalTime,
  levelOf,
  limitRows,
  NOTHING_USED,
  nextUtcDay,
  nextUtcHour,
  usedFraction,
} from './usage-math.ts';

const guest = DEFAULT_PLANS.find((p) => p.id === 'guest')!.limits;
const now = new Date('2026-11-20T22:40:10Z');

describe('UTC periods', () => {
  it('reset on the next UTC hour and day, like the server counters', () => {
    expect(nextUtcHour(now).toISOString()).toBe('2026-11-20T23:00:00.000Z');
    expect(nextUtcDay(now).toISOString()).toBe('2026-11-21T00:00:00.000Z');
  });
});

describe('allowanceOf', () => {
  it('is the whole guest allowance for a visitor', () => {
    const a = allowanceOf({ limits: guest, used: NOTHING_USED, credits: null, period: null }, now);
    expect(a).toMatchObject({ messagesLeftToday: 5, messagesPerDay: 5, tokensLeftThisMonth: 10_000, creditTokens: null });
  });

  it('subtracts what is used, never below zero, and says when messages come back', () => {
    const end = new Date('2026-12-01T00:00:00Z');
    const used = { ...NOTHING_USED, messagesToday: 5, messagesThisHour: 2, tokensThisMonth: 12_000 };
    const a = allowanceOf({ limits: guest, used, credits: { tokens: 300 }, period: { end } }, now);
    expect(a).toMatchObject({ messagesLeftToday: 0, messagesLeftThisHour: 3, tokensLeftThisMonth: 0, creditTokens: 300, tokensResetAt: end });
    expect(a.messagesResetAt).toEqual(nextUtcDay(now));
    const hourly = allowanceOf({ limits: guest, used: { ...NOTHING_USED, messagesToday: 1, messagesThisHour: 5 }, credits: null, period: null }, now);
    expect(hourly.messagesLeftThisHour).toBe(0);
    expect(hourly.messagesResetAt).toEqual(nextUtcHour(now));
  });
});

describe('limitRows', () => {
  it('has one row per limit with its reset', () => {
    const rows = limitRows({ limits: guest, used: { ...NOTHING_USED, messagesToday: 2 }, period: { start: now, end: new Date('2026-12-01T00:00:00Z') } }, now);
    // The guest plan has a provider-cost cap, so it has a dollar row too.
    expect(rows.map((r) => r.id)).toEqual([
      'messagesToday',
      'messagesThisHour',
      'tokensThisMonth',
      'costThisPeriodMicroUsd',
      'requestsThisMinute',
      'ttsCharsToday',
    ]);
    expect(rows[0]).toMatchObject({ used: 2, limit: 5, resetAt: nextUtcDay(now) });
    expect(rows[4]?.rolling).toBe(true);
  });
});

describe('the plan cost cap row', () => {
  const period = { start: new Date('2026-11-01T00:00:00Z'), end: new Date('2026-12-01T00:00:00Z') };

  it('shows the plan cost cap with what was spent this period, in dollars, resetting with the period', () => {
    const rows = limitRows({ limits: { ...guest, costPerMonthMicroUsd: 5_000_000 }, used: { ...NOTHING_USED, costThisPeriodMicroUsd: 1_234 }, period }, now);
    expect(rows.map((r) => r.id)).toEqual([
      'messagesToday',
      'messagesThisHour',
      'tokensThisMonth',
      'costThisPeriodMicroUsd',
      'requestsThisMinute',
      'ttsCharsToday',
    ]);
    const cost = rows[3]!;
    expect(cost).toMatchObject({ label: "Plan's monthly cost cap", used: 1_234, limit: 5_000_000, resetAt: period.end, money: true });
    expect(formatLimitAmount(cost, cost.used)).toBe('$0.001234');
    expect(formatLimitAmount(cost, cost.limit)).toBe('$5.00');
    expect(levelOf(cost.used, cost.limit)).toBe('ok');
  });

  it('has no cost row without a cap, and counts other rows as before', () => {
    for (const costPerMonthMicroUsd of [null, undefined]) {
      const rows = limitRows({ limits: { ...guest, costPerMonthMicroUsd }, used: NOTHING_USED, period }, now);
      expect(rows.some((r) => r.id === 'costThisPeriodMicroUsd')).toBe(false);
    }
    expect(formatLimitAmount({}, 12_000)).toBe('12,000');
  });
});

describe('levels', () => {
  it('warns from 75 % and is full at the limit; a zero limit is full', () => {
    expect(levelOf(1, 5)).toBe('ok');
    expect(levelOf(4, 5)).toBe('warn');
    expect(levelOf(5, 5)).toBe('full');
    expect(levelOf(0, 0)).toBe('full');
    expect(usedFraction(7, 5)).toBe(1);
  });
});

describe('formatting', () => {
  it('writes large counts compactly', () => {
    expect(formatCompact(950)).toBe('950');
    expect(formatCompact(9_901)).toBe('9,901');
    expect(formatCompact(10_000)).toBe('10K');
    expect(formatCompact(2_000_000)).toBe('2M');
  });

  it('says how long until a reset, briefly', () => {
    const at = (ms: number) => new Date(now.getTime() + ms);
    expect(formatIn(at(-1000), now)).toBe('now');
    expect(formatIn(at(45_000), now)).toBe('in 45 s');
    expect(formatIn(at(19 * 60_000 + 50_000), now)).toBe('in 20 min');
    expect(formatIn(at(3 * 3_600_000 - 60_000), now)).toBe('in 3 h');
    expect(formatIn(at(8 * 86_400_000), now)).toBe('in 8 d');
  });

  it('gives the reset in local time, with the day when it is not today', () => {
    const local = new Date(2026, 10, 20, 9, 0);
    expect(formatLocalTime(new Date(2026, 10, 20, 14, 30), local, 'en-GB')).toBe('at 14:30');
    expect(formatLocalTime(new Date(2026, 10, 21, 1, 0), local, 'en-GB')).toBe('tomorrow at 1:00');
    expect(formatLocalTime(new Date(2026, 10, 24, 1, 0), local, 'en-GB')).toBe('on Tue 24 Nov at 1:00');
    expect(describeReset(new Date(2026, 10, 20, 12, 0), local, 'en-GB')).toBe('Resets at 12:00 (in 3 h)');
  });
});
