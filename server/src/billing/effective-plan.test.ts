import { describe, expect, it } from 'vitest';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import { addMonths, bestGrant, DAY_MS, graceEndsAt, grantedPlan, monthWithin, subscriptionMonth, type SubscriptionState } from './effective-plan.ts';

const t = (iso: string) => new Date(iso);
const base: SubscriptionState = {
  planId: 'pro',
  status: 'active',
  currentPeriodStart: t('2026-11-10T12:00:00Z'),
  currentPeriodEnd: t('2026-12-10T12:00:00Z'),
  cancelAtPeriodEnd: false,
  pastDueSince: null,
};
const now = t('2026-11-20T00:00:00Z');

describe('grantedPlan', () => {
  it.each([
    ['active', 'pro'],
    ['trialing', 'pro'],
    ['unpaid', null],
    ['canceled', null],
    ['incomplete', null],
    ['incomplete_expired', null],
    ['paused', null],
  ])('%s -> %s', (status, plan) => {
    expect(grantedPlan({ ...base, status }, now, 7)).toBe(plan);
  });

  it('past_due keeps the plan for the grace days, then not', () => {
    const sub = { ...base, status: 'past_due', pastDueSince: now };
    expect(graceEndsAt(sub, 7)).toEqual(new Date(now.getTime() + 7 * DAY_MS));
    expect(grantedPlan(sub, new Date(now.getTime() + 7 * DAY_MS - 1), 7)).toBe('pro');
    expect(grantedPlan(sub, new Date(now.getTime() + 7 * DAY_MS), 7)).toBeNull();
    expect(grantedPlan(sub, now, 0)).toBeNull();
  });

  it('cancel at period end keeps the plan until the period ends', () => {
    const sub = { ...base, cancelAtPeriodEnd: true };
    expect(grantedPlan(sub, now, 7)).toBe('pro');
    expect(grantedPlan(sub, base.currentPeriodEnd!, 7)).toBeNull();
  });

  it('an unknown price grants nothing', () => {
    expect(grantedPlan({ ...base, planId: null }, now, 7)).toBeNull();
  });

  it('the best of several subscriptions wins', () => {
    const subs = [
      { ...base, id: 'a' },
      { ...base, id: 'b', planId: 'enterprise' },
      { ...base, id: 'c', planId: 'enterprise', status: 'canceled' },
    ];
    expect(bestGrant(subs, DEFAULT_PLANS, now, 7)).toMatchObject({ planId: 'enterprise', sub: { id: 'b' } });
    expect(bestGrant([{ ...base, status: 'canceled' }], DEFAULT_PLANS, now, 7)).toBeNull();
  });
});

describe('subscriptionMonth', () => {
  it("is Stripe's period while in it", () => {
    expect(subscriptionMonth(base, now)).toEqual({ start: base.currentPeriodStart, end: base.currentPeriodEnd });
    // A moment before Stripe's start (clock difference) still counts in the new period.
    expect(subscriptionMonth(base, new Date(base.currentPeriodStart!.getTime() - 500))).toEqual({ start: base.currentPeriodStart, end: base.currentPeriodEnd });
  });

  it("rolls on from Stripe's anchor when the renewal is late", () => {
    const length = base.currentPeriodEnd!.getTime() - base.currentPeriodStart!.getTime();
    const later = new Date(base.currentPeriodEnd!.getTime() + 1_000);
    expect(subscriptionMonth(base, later)).toEqual({ start: base.currentPeriodEnd, end: new Date(base.currentPeriodEnd!.getTime() + length) });
  });

  it('falls back to the calendar month without a period', () => {
    expect(subscriptionMonth({ ...base, currentPeriodStart: null }, now)).toEqual({ start: t('2026-11-01T00:00:00Z'), end: t('2026-12-01T00:00:00Z') });
  });
});

describe('a yearly period is cut into months anchored at its start', () => {
  const yearly: SubscriptionState = { ...base, currentPeriodStart: t('2026-01-31T09:30:00Z'), currentPeriodEnd: t('2027-01-31T09:30:00Z') };
  const month = (iso: string) => subscriptionMonth(yearly, t(iso));

  it('addMonths keeps the anchor day, clamped in shorter months, counted from the anchor', () => {
    const anchor = t('2026-01-31T09:30:00Z');
    expect([1, 2, 3, 13].map((n) => addMonths(anchor, n).toISOString())).toEqual([
      '2026-02-28T09:30:00.000Z',
      '2026-03-31T09:30:00.000Z',
      '2026-04-30T09:30:00.000Z',
      '2027-02-28T09:30:00.000Z',
    ]);
    expect(addMonths(t('2028-01-31T00:00:00Z'), 1).toISOString()).toBe('2028-02-29T00:00:00.000Z');
    expect(addMonths(t('2026-12-15T00:00:00Z'), -2).toISOString()).toBe('2026-10-15T00:00:00.000Z');
  });

  it.each([
    ['2026-01-31T09:30:00Z', '2026-01-31T09:30:00Z', '2026-02-28T09:30:00Z'],
    ['2026-02-28T09:29:59Z', '2026-01-31T09:30:00Z', '2026-02-28T09:30:00Z'],
    ['2026-02-28T09:30:00Z', '2026-02-28T09:30:00Z', '2026-03-31T09:30:00Z'],
    ['2026-03-15T00:00:00Z', '2026-02-28T09:30:00Z', '2026-03-31T09:30:00Z'],
    ['2026-03-31T09:30:00Z', '2026-03-31T09:30:00Z', '2026-04-30T09:30:00Z'],
    ['2026-07-01T00:00:00Z', '2026-06-30T09:30:00Z', '2026-07-31T09:30:00Z'],
    ['2026-12-31T09:30:00Z', '2026-12-31T09:30:00Z', '2027-01-31T09:30:00Z'],
    ['2027-01-31T09:29:59Z', '2026-12-31T09:30:00Z', '2027-01-31T09:30:00Z'],
  ])('at %s the month is [%s, %s)', (at, start, end) => {
    expect(month(at)).toEqual({ start: t(start), end: t(end) });
  });

  it('twelve windows, back to back, from the period start to its end', () => {
    const windows = [];
    let at = yearly.currentPeriodStart!;
    while (at < yearly.currentPeriodEnd!) {
      const w = subscriptionMonth(yearly, at);
      expect(w.start).toEqual(at);
      windows.push(w);
      at = w.end;
    }
    expect(windows).toHaveLength(12);
    expect(windows.at(-1)!.end).toEqual(yearly.currentPeriodEnd);
  });

  it('before the start (clock skew) it is the first month; after the end (late renewal) the next year is cut the same way', () => {
    expect(month('2026-01-31T09:29:00Z')).toEqual({ start: t('2026-01-31T09:30:00Z'), end: t('2026-02-28T09:30:00Z') });
    const late = month('2027-02-01T00:00:00Z');
    expect(late.start).toEqual(t('2027-01-31T09:30:00Z'));
    expect(late.end.getTime() - late.start.getTime()).toBeLessThanOrEqual(31 * DAY_MS);
  });

  it("a monthly period stays whole, also Stripe's 28 Feb -> 31 Mar period of a cycle anchored on the 31st", () => {
    expect(monthWithin({ start: t('2026-02-28T09:30:00Z'), end: t('2026-03-31T09:30:00Z') }, t('2026-03-30T00:00:00Z'))).toEqual({
      start: t('2026-02-28T09:30:00Z'),
      end: t('2026-03-31T09:30:00Z'),
    });
    expect(subscriptionMonth(base, now)).toEqual({ start: base.currentPeriodStart, end: base.currentPeriodEnd });
  });
});
