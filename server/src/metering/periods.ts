// Quota periods, in UTC. The month is the calendar month unless billing gives a
// subscription period (paid plans reset on Stripe's period).

export function hourStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), now.getUTCHours()));
}

export function dayStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

export function monthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

export function nextHour(now: Date): Date {
  return new Date(hourStart(now).getTime() + 60 * 60 * 1000);
}

export function nextDay(now: Date): Date {
  return new Date(dayStart(now).getTime() + 24 * 60 * 60 * 1000);
}

export function nextMonth(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

export interface MonthPeriod {
  start: Date;
  end: Date;
}

/**
 * The user's quota month (billing's monthFor: a subscriber's Stripe period). `known.subscribed`
 * comes from the session lookup; false means no live subscription, so nothing needs reading.
 */
export type MonthFor = (userId: string, now: Date, known?: KnownSubscription) => Promise<MonthPeriod>;
export interface KnownSubscription {
  subscribed?: boolean | undefined;
}

export function calendarMonth(now: Date): MonthPeriod {
  return { start: monthStart(now), end: nextMonth(now) };
}
