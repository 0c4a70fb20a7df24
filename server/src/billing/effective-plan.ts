// What a subscription grants right now, from the state Stripe last described.
// Pure functions: the webhook handler, the grace sweeper and monthFor all ask
// the same question the same way.
import type { TPlan } from '@chatmeter/shared/plans';
import { calendarMonth, type MonthPeriod } from '../metering/periods.ts';

export const DAY_MS = 24 * 60 * 60 * 1000;

export interface SubscriptionState {
  planId: string | null;
  status: string;
  currentPeriodStart: Date | null;
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  pastDueSince: Date | null;
}

export function graceEndsAt(sub: SubscriptionState, graceDays: number): Date | null {
  if (sub.status !== 'past_due' || !sub.pastDueSince) return null;
  return new Date(sub.pastDueSince.getTime() + graceDays * DAY_MS);
}

/**
 * The paid plan a subscription grants at `now`, or null (free):
 * active/trialing -> its plan (until the period ends when cancelling at period end,
 * in case the deletion event is late); past_due -> its plan within the grace
 * period; unpaid, canceled, incomplete, paused... -> nothing.
 */
export function grantedPlan(sub: SubscriptionState, now: Date, graceDays: number): string | null {
  if (!sub.planId) return null;
  switch (sub.status) {
    case 'active':
    case 'trialing':
      if (sub.cancelAtPeriodEnd && sub.currentPeriodEnd && now >= sub.currentPeriodEnd) return null;
      return sub.planId;
    case 'past_due': {
      const end = graceEndsAt(sub, graceDays);
      return end && now >= end ? null : sub.planId;
    }
    default:
      return null;
  }
}

/** Among a user's subscriptions, the one whose granted plan ranks highest (by price, then table order). */
export function bestGrant<T extends SubscriptionState>(
  subs: readonly T[],
  plans: readonly TPlan[],
  now: Date,
  graceDays: number,
): { sub: T; planId: string } | null {
  let best: { sub: T; planId: string; rank: number } | null = null;
  for (const sub of subs) {
    const planId = grantedPlan(sub, now, graceDays);
    if (!planId) continue;
    const index = plans.findIndex((p) => p.id === planId);
    if (index < 0) continue;
    const rank = plans[index]!.priceMonthlyCents * 1_000 + index;
    if (!best || rank > best.rank) best = { sub, planId, rank };
  }
  return best ? { sub: best.sub, planId: best.planId } : null;
}

/**
 * `anchor` plus `months` calendar months in UTC, on the anchor's day of the month
 * (clamped to the last day of shorter months) at the anchor's time: Stripe's monthly
 * cycle. Always counted from the anchor, so a cycle anchored on the 31st comes back
 * to the 31st after February.
 */
export function addMonths(anchor: Date, months: number): Date {
  const year = anchor.getUTCFullYear();
  const month = anchor.getUTCMonth() + months;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return new Date(
    Date.UTC(
      year,
      month,
      Math.min(anchor.getUTCDate(), lastDay),
      anchor.getUTCHours(),
      anchor.getUTCMinutes(),
      anchor.getUTCSeconds(),
      anchor.getUTCMilliseconds(),
    ),
  );
}

/** A billing period longer than this is cut into months (no monthly period is longer than 31 days). */
const LONGEST_MONTH_MS = 31 * DAY_MS;

/**
 * The month of a billing period that holds `now`. A period of a month or less is its
 * own month. A longer one (a yearly subscription) is cut into monthly windows anchored
 * at the period's start, the last one ending with the period, so the allowance still
 * resets every month while the price is paid once a year.
 */
export function monthWithin(period: MonthPeriod, now: Date): MonthPeriod {
  const { start, end } = period;
  if (end.getTime() - start.getTime() <= LONGEST_MONTH_MS) return period;
  let months = Math.max(0, (now.getUTCFullYear() - start.getUTCFullYear()) * 12 + now.getUTCMonth() - start.getUTCMonth());
  while (months > 0 && addMonths(start, months) > now) months--;
  while (addMonths(start, months + 1) <= now && addMonths(start, months + 1) < end) months++;
  const windowStart = addMonths(start, months);
  const windowEnd = addMonths(start, months + 1);
  return { start: windowStart, end: windowEnd < end ? windowEnd : end };
}

/**
 * The quota month of a paid subscriber: Stripe's billing period, or for a yearly one
 * the month of it that holds `now` (monthWithin). When the period has ended and the
 * renewal has not arrived yet, periods of the same length roll on from Stripe's
 * anchor, so the allowance still resets on Stripe's boundary.
 */
export function subscriptionMonth(sub: SubscriptionState, now: Date): MonthPeriod {
  const start = sub.currentPeriodStart;
  const end = sub.currentPeriodEnd;
  if (!start || !end || end <= start) return calendarMonth(now);
  const length = end.getTime() - start.getTime();
  // Also when `now` is a moment before Stripe's start (clocks differ a little).
  if (now < end) return monthWithin({ start, end }, now);
  const periods = Math.floor((now.getTime() - start.getTime()) / length);
  const rolledStart = new Date(start.getTime() + periods * length);
  return monthWithin({ start: rolledStart, end: new Date(rolledStart.getTime() + length) }, now);
}
