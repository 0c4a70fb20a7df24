// Subscriptions as Stripe last described them, and the user's effective plan
// derived from them. Every write happens inside the caller's transaction, under
// an advisory lock per subscription and per user, so two events about the same
// subscription (or two subscriptions of one user) cannot interleave.
import { Prisma } from '@chatmeter/db/client';
import type { TPlan } from '@chatmeter/shared/plans';
import type { Logger } from '../lib/logger.ts';
import type { Tx } from '../metering/counters.ts';
import { bestGrant, grantedPlan } from './effective-plan.ts';
import { PermanentEventError, StaleSnapshotError } from './event-errors.ts';
import type { ParsedSubscription } from './stripe-payloads.ts';

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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A transaction-scoped advisory lock: events about the same thing apply one after the other. */
export async function lock(tx: Tx, key: string): Promise<void> {
  await tx.$executeRaw(Prisma.sql`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`);
}

export interface SubscriptionStoreOptions {
  plans: readonly TPlan[];
  graceDays: number;
  planByPrice: ReadonlyMap<string, string>;
  logger: Logger;
}

export class SubscriptionStore {
  constructor(private readonly options: SubscriptionStoreOptions) {}

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
    parsed: ParsedSubscription,
    opts: { asOf: Date; source: 'snapshot' | 'retrieved'; userIdHint?: string | null; now: Date },
  ): Promise<{ userId: string; planId: string; subscription: ParsedSubscription }> {
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

    const planId = this.options.planByPrice.get(parsed.priceId) ?? null;
    if (!planId) {
      this.options.logger.warn({ subscription: parsed.id, price: parsed.priceId }, "subscription price is not any plan's Stripe price; it grants no plan");
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
      const granted = grantedPlan(sub, now, this.options.graceDays) ?? 'free';
      if (granted !== sub.effectivePlanId) {
        await tx.subscription.update({ where: { id: sub.id }, data: { effectivePlanId: granted }, select: { id: true } });
      }
    }
    const planId = bestGrant(subs, this.options.plans, now, this.options.graceDays)?.planId ?? 'free';
    const changed = await tx.$executeRaw(Prisma.sql`
      UPDATE users SET plan_id = ${planId} WHERE id = ${userId}::uuid AND is_guest = false AND plan_id <> ${planId}`);
    return { planId, changed: changed > 0 };
  }
}
