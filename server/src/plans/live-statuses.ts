/** Subscriptions that still hold (or may still hold) a paid plan. */
export const LIVE_STATUSES = ['active', 'trialing', 'past_due'];
