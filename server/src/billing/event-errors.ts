// How applying a Stripe event can fail, and what the webhook answers for each.

/** The event's snapshot is older than what is stored: retrieve the subscription instead. */
export class StaleSnapshotError extends Error {
  constructor(subscriptionId: string) {
    super(`the event's copy of ${subscriptionId} is older than the stored state`);
    this.name = 'StaleSnapshotError';
  }
}

/** The event cannot be applied, and redelivering it will not change that (200 `rejected`, recorded). */
export class PermanentEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentEventError';
  }
}

/** Worth another delivery later (e.g. a refund whose purchase has not been recorded yet): 409. */
export class RetryLaterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryLaterError';
  }
}
