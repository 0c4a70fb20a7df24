// Subscriptions as Stripe last described them, and the user's effective plan
// derived from them. Every write happens inside the caller's transaction, under
// an advisory lock per subscription and per user, so two events about the same
// subscription (or two subscriptions of one user) cannot interleave.
import { Prisma } from '@chatmeter/db/client';
import type { TPlan } from '@chatmeter/shared/plans';
import type Stripe from 'stripe';
import type { Logger } from '../lib/logger.ts';
import type { Tx } from '../metering/counters.ts';
import { bestGrant, grantedPlan } from './effective-plan.ts';

export const SUBSCRIPTION_SELECT = {
  id: true,
  userId: true,
  itemId: true,
  priceId: true,
  planId: true,
  status: true,
  currentPeriodStart: true,
  currentPeriodEnd: true,
  cancelAtPeriodEnd: true,
  canceledAt: true,
  pastDueSince: true,
  effectivePlanId: true,
  stripeStateAt: true,
  updatedAt: true,
} satisfies Prisma.SubscriptionSelect;

export type SubscriptionRow = Prisma.SubscriptionGetPayload<{ select: typeof SUBSCRIPTION_SELECT }>;

/**
 * SUBSCRIPTION_SELECT as SQL for queries outside Prisma: each field's column (the schema
 * maps every one to its snake_case name) under the field's name, so rows have Prisma's shape.
 */
export const SUBSCRIPTION_COLUMNS_SQL = Object.keys(SUBSCRIPTION_SELECT)
  .map((field) => `${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)} AS "${field}"`)
  .join(', ');

/** The event's snapshot is older than what is stored: retrieve the subscription instead. */
export class StaleSnapshotError extends Error {
  constructor(subscriptionId: string) {
    super(`the event's copy of ${subscriptionId} is older than the stored state`);
    this.name = 'StaleSnapshotError';
  }
}

/** The event cannot be applied, and redelivering it will not change that (acknowledged, recorded). */
export class PermanentEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentEventError';
  }
}

/** Worth another delivery later (e.g. a refund whose purchase has not been recorded yet). */
export class RetryLaterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryLaterError';
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function stripeRef(value: string | { id: string } | null | undefined): string | null {
  if (!value) return null;
  return typeof value === 'string' ? value : value.id;
}

const fromUnix = (seconds: number | null | undefined): Date | null => (typeof seconds === 'number' && seconds > 0 ? new Date(seconds * 1000) : null);

export interface ParsedSubscription {
  id: string;
  customerId: string;
  itemId: string | null;
  priceId: string | null;
  status: string;
  periodStart: Date | null;
  periodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  canceledAt: Date | null;
  metadataUserId: string | null;
}

/** Reads the fields we keep, from the API version of the installed SDK (period on the item) or an older one. */
export function parseSubscription(sub: Stripe.Subscription): ParsedSubscription {
  if (!sub || typeof sub.id !== 'string' || !sub.id.startsWith('sub_') || typeof sub.status !== 'string') {
    throw new PermanentEventError('the event does not carry a subscription object');
  }
  const customerId = stripeRef(sub.customer as string | { id: string } | null);
  if (!customerId) throw new PermanentEventError(`subscription ${sub.id} has no customer`);
  const item = Array.isArray(sub.items?.data) ? sub.items.data[0] : undefined;
  const legacy = sub as unknown as { current_period_start?: number; current_period_end?: number };
  return {
    id: sub.id,
    customerId,
    itemId: item?.id ?? null,
    priceId: item?.price?.id ?? null,
    status: sub.status,
    periodStart: fromUnix(item?.current_period_start ?? legacy.current_period_start),
    periodEnd: fromUnix(item?.current_period_end ?? legacy.current_period_end),
    // Newer API versions may express "cancel at period end" as cancel_at = period end.
    cancelAtPeriodEnd:
      sub.cancel_at_period_end === true ||
      (sub.cancel_at != null && item?.current_period_end != null && sub.cancel_at === item.current_period_end && sub.status !== 'canceled'),
    canceledAt: fromUnix(sub.canceled_at),
    metadataUserId: typeof sub.metadata?.user_id === 'string' ? sub.metadata.user_id : null,
  };
}

async function lock(tx: Tx, key: string): Promise<void> {
  await tx.$executeRaw(Prisma.sql`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`);
}

export interface SubscriptionStoreOptions {
  plans: readonly TPlan[];
  graceDays: number;
  planByPrice: ReadonlyMap<string, string>;
  logger: Logger;
}

export class SubscriptionStore {
  constructor(private readonly o: SubscriptionStoreOptions) {}

  /** A ChatMeter account (not a guest) with this id, if the id is one. */
  async findAccount(tx: Tx, userId: string | null | undefined): Promise<string | null> {
    if (!userId || !UUID.test(userId)) return null;
    const user = await tx.user.findUnique({ where: { id: userId }, select: { id: true, isGuest: true } });
    return user && !user.isGuest ? user.id : null;
  }

  async userForCustomer(tx: Tx, customerId: string | null): Promise<string | null> {
    if (!customerId) return null;
    const row = await tx.billingCustomer.findUnique({ where: { stripeCustomerId: customerId }, select: { userId: true } });
    return row?.userId ?? null;
  }

  /** Remembers the customer of a user who has none stored (e.g. one Checkout created). */
  async rememberCustomer(tx: Tx, userId: string, customerId: string | null): Promise<void> {
    if (!customerId) return;
    await tx.$executeRaw(Prisma.sql`
      INSERT INTO billing_customers (user_id, stripe_customer_id) VALUES (${userId}::uuid, ${customerId})
      ON CONFLICT DO NOTHING`);
  }

  /**
   * Stores a subscription's state. `asOf` is the Stripe time of the event that
   * brought it; a snapshot (the event's own copy) older than or as old as the
   * stored state is refused with StaleSnapshotError, a retrieved copy (the
   * current state) always applies.
   */
  async apply(
    tx: Tx,
    sub: Stripe.Subscription,
    opts: { asOf: Date; source: 'snapshot' | 'retrieved'; userIdHint?: string | null; now: Date },
  ): Promise<{ userId: string; planId: string; subscription: ParsedSubscription }> {
    const parsed = parseSubscription(sub);
    await lock(tx, `billing-sub:${parsed.id}`);
    const existing = await tx.subscription.findUnique({ where: { id: parsed.id }, select: { userId: true, stripeStateAt: true, pastDueSince: true } });
    if (opts.source === 'snapshot' && existing && existing.stripeStateAt >= opts.asOf) throw new StaleSnapshotError(parsed.id);

    const userId =
      existing?.userId ??
      (await this.findAccount(tx, parsed.metadataUserId)) ??
      (await this.findAccount(tx, opts.userIdHint)) ??
      (await this.userForCustomer(tx, parsed.customerId));
    if (!userId) throw new PermanentEventError(`no ChatMeter account for subscription ${parsed.id} (customer ${parsed.customerId})`);
    await this.rememberCustomer(tx, userId, parsed.customerId);

    const planId = parsed.priceId ? (this.o.planByPrice.get(parsed.priceId) ?? null) : null;
    if (parsed.priceId && !planId) {
      this.o.logger.warn({ subscription: parsed.id, price: parsed.priceId }, 'subscription price is not any plan\'s Stripe price; it grants no plan');
    }
    // Grace runs from the first moment Stripe told us the subscription was past due.
    const pastDueSince = parsed.status === 'past_due' ? (existing?.pastDueSince ?? opts.asOf) : null;
    const stripeStateAt = existing && existing.stripeStateAt > opts.asOf ? existing.stripeStateAt : opts.asOf;
    const fields = {
      stripeCustomerId: parsed.customerId,
      itemId: parsed.itemId,
      priceId: parsed.priceId,
      planId,
      status: parsed.status,
      currentPeriodStart: parsed.periodStart,
      currentPeriodEnd: parsed.periodEnd,
      cancelAtPeriodEnd: parsed.cancelAtPeriodEnd,
      canceledAt: parsed.canceledAt,
      pastDueSince,
      stripeStateAt,
      updatedAt: opts.now,
    };
    if (existing) {
      await tx.subscription.update({ where: { id: parsed.id }, data: fields, select: { id: true } });
    } else {
      await tx.subscription.create({ data: { id: parsed.id, userId, ...fields }, select: { id: true } });
    }
    const synced = await this.syncUser(tx, userId, opts.now);
    return { userId, planId: synced.planId, subscription: parsed };
  }

  /**
   * Recomputes what each of the user's subscriptions grants at `now` and sets
   * users.plan_id to the best of them (free when none grants a plan). Only users
   * with a subscription row are ever touched: billing owns their plan.
   */
  async syncUser(tx: Tx, userId: string, now: Date): Promise<{ planId: string; changed: boolean }> {
    await lock(tx, `billing-user:${userId}`);
    const subs = await tx.subscription.findMany({ where: { userId }, select: SUBSCRIPTION_SELECT });
    for (const sub of subs) {
      const granted = grantedPlan(sub, now, this.o.graceDays) ?? 'free';
      if (granted !== sub.effectivePlanId) {
        await tx.subscription.update({ where: { id: sub.id }, data: { effectivePlanId: granted }, select: { id: true } });
      }
    }
    const planId = bestGrant(subs, this.o.plans, now, this.o.graceDays)?.planId ?? 'free';
    const changed = await tx.$executeRaw(Prisma.sql`
      UPDATE users SET plan_id = ${planId} WHERE id = ${userId}::uuid AND is_guest = false AND plan_id <> ${planId}`);
    return { planId, changed: changed > 0 };
  }
}
