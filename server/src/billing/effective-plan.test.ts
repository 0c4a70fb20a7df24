import { describe, expect, it } from 'vitest';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import { bestGrant, DAY_MS, graceEndsAt, grantedPlan, subscriptionMonth, type SubscriptionState } from './effective-plan.ts';

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
    const subs = [{ ...base, id: 'a' }, { ...base, id: 'b', planId: 'enterprise' }, { ...base, id: 'c', planId: 'enterprise', status: 'canceled' }];
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

  it('rolls on from Stripe\'s anchor when the renewal is late', () => {
    const length = base.currentPeriodEnd!.getTime() - base.currentPeriodStart!.getTime();
    const later = new Date(base.currentPeriodEnd!.getTime() + 1_000);
    expect(subscriptionMonth(base, later)).toEqual({ start: base.currentPeriodEnd, end: new Date(base.currentPeriodEnd!.getTime() + length) });
  });

  it('falls back to the calendar month without a period', () => {
    expect(subscriptionMonth({ ...base, currentPeriodStart: null }, now)).toEqual({ start: t('2026-11-01T00:00:00Z'), end: t('2026-12-01T00:00:00Z') });
  });
});
