// Offline billing (BILLING_SIMULATOR=1 without STRIPE_SECRET_KEY): stands in for
// Stripe's API and hosted pages. Checkout and portal URLs point back at the
// Billing tab, whose clearly labelled "test checkout" calls simulate(); that
// builds the same event objects Stripe would send, signs them with the webhook
// secret (stripe.webhooks.generateTestHeaderString) and hands them to the same
// webhook handler the HTTP route uses, signature check included.
import type { PrismaClient } from '@chatmeter/db/client';
import type { TSimulateInput } from '@chatmeter/shared/billing';
import { microsToCents } from '@chatmeter/shared/money';
import Stripe from 'stripe';
import { AppError } from '../lib/app-error.ts';
import type { BillingGateway } from './gateway.ts';
import { chargeObject, checkoutSessionObject, eventObject, invoiceObject, periodEnd, stripeId, subscriptionObject, unixNow } from './stripe-objects.ts';
import type { WebhookResult } from './webhook-handler.ts';

type Deliver = (payload: string, signature: string) => Promise<WebhookResult>;

interface SimSession {
  id: string;
  userId: string;
  kind: 'subscription' | 'payment' | 'plan_change';
  customer: string;
  priceId: string;
  amountCents: number;
  metadata: Record<string, string>;
  successUrl: string | null;
  cancelUrl: string | null;
  subscriptionId?: string;
  itemId?: string;
}

export interface SimulatorOptions {
  prisma: PrismaClient;
  webhookSecret: string;
  /** Display price (cents) of each simulated Stripe price. */
  priceAmounts: ReadonlyMap<string, number>;
  /** Stripe price id -> plan id, to rebuild subscriptions after a restart. */
  planPrices: ReadonlyMap<string, string>;
  /** Stripe price id of a plan -> how it bills (a yearly price makes a yearly period). */
  priceIntervals: ReadonlyMap<string, 'month' | 'year'>;
}

export interface SimulationResult {
  outcomes: string[];
  /** Where the browser goes next (the checkout's success URL). */
  redirectTo: string | null;
}

const SESSION_TTL_MS = 24 * 60 * 60 * 1000;

export class BillingSimulator implements BillingGateway {
  readonly mode = 'simulator' as const;
  private readonly customersByUser = new Map<string, string>();
  private readonly sessions = new Map<string, SimSession & { createdAt: number }>();
  private readonly subscriptions = new Map<string, Stripe.Subscription>();
  private deliver: Deliver | undefined;

  constructor(private readonly options: SimulatorOptions) {}

  private intervalOf(priceId: string): 'month' | 'year' {
    return this.options.priceIntervals.get(priceId) ?? 'month';
  }

  /** Wires the webhook handler the signed events are delivered to. */
  attach(deliver: Deliver): void {
    this.deliver = deliver;
  }

  // ---- BillingGateway: what Stripe's API would do ----

  async createCustomer(params: { userId: string }): Promise<string> {
    let id = this.customersByUser.get(params.userId);
    if (!id) {
      id = stripeId('cus_sim', 14);
      this.customersByUser.set(params.userId, id);
    }
    return id;
  }

  async customerExists(customerId: string): Promise<boolean> {
    return customerId.startsWith('cus_sim_');
  }

  async createCheckoutSession(params: Stripe.Checkout.SessionCreateParams): Promise<{ id: string; url: string }> {
    const priceId = params.line_items?.[0]?.price;
    const userId = params.client_reference_id;
    if (!priceId || !userId || typeof params.customer !== 'string') throw new Error('simulator: checkout needs a price, a user and a customer');
    return this.openSession({
      userId,
      kind: params.mode === 'subscription' ? 'subscription' : 'payment',
      customer: params.customer,
      priceId,
      amountCents: this.options.priceAmounts.get(priceId) ?? 0,
      metadata: { ...(params.metadata as Record<string, string> | undefined) },
      successUrl: params.success_url ?? null,
      cancelUrl: params.cancel_url ?? null,
    });
  }

  async createPortalSession(params: Stripe.BillingPortal.SessionCreateParams): Promise<{ url: string }> {
    const confirm = params.flow_data?.type === 'subscription_update_confirm' ? params.flow_data.subscription_update_confirm : undefined;
    if (confirm) {
      // A plan change: Stripe's portal would show a confirmation page; so does the simulator.
      const sub = await this.retrieveSubscription(confirm.subscription);
      const item = confirm.items[0];
      const userId = sub.metadata?.user_id;
      if (!item?.price || !userId) throw new Error('simulator: plan change needs a price and a subscription of a user');
      return this.openSession({
        userId,
        kind: 'plan_change',
        customer: params.customer ?? String(sub.customer),
        priceId: item.price,
        amountCents: this.options.priceAmounts.get(item.price) ?? 0,
        metadata: { ...sub.metadata, plan_id: this.options.planPrices.get(item.price) ?? '' },
        successUrl: params.return_url ?? null,
        cancelUrl: params.return_url ?? null,
        subscriptionId: sub.id,
        ...(item.id ? { itemId: item.id } : {}),
      });
    }
    return { url: '/billing?simulated_portal=1' };
  }

  async retrieveSubscription(id: string): Promise<Stripe.Subscription> {
    const known = this.subscriptions.get(id);
    if (known) return known;
    // After a restart the simulator's memory is empty: rebuild from what the webhook stored.
    const row = await this.options.prisma.subscription.findUnique({
      where: { id },
      select: {
        id: true,
        userId: true,
        stripeCustomerId: true,
        itemId: true,
        priceId: true,
        planId: true,
        status: true,
        currentPeriodStart: true,
        currentPeriodEnd: true,
        cancelAtPeriodEnd: true,
        canceledAt: true,
        createdAt: true,
      },
    });
    if (!row?.priceId || !row.currentPeriodStart || !row.currentPeriodEnd) {
      throw new Stripe.errors.StripeInvalidRequestError({
        type: 'invalid_request_error',
        message: `No such subscription: '${id}'`,
        code: 'resource_missing',
        statusCode: 404,
      });
    }
    const sub = subscriptionObject({
      id: row.id,
      customer: row.stripeCustomerId,
      priceId: row.priceId,
      unitAmount: this.options.priceAmounts.get(row.priceId) ?? 0,
      interval: this.intervalOf(row.priceId),
      status: row.status as Stripe.Subscription.Status,
      periodStart: Math.floor(row.currentPeriodStart.getTime() / 1000),
      periodEnd: Math.floor(row.currentPeriodEnd.getTime() / 1000),
      cancelAtPeriodEnd: row.cancelAtPeriodEnd,
      canceledAt: row.canceledAt ? Math.floor(row.canceledAt.getTime() / 1000) : null,
      metadata: { user_id: row.userId, plan_id: row.planId ?? '' },
      created: Math.floor(row.createdAt.getTime() / 1000),
      ...(row.itemId ? { itemId: row.itemId } : {}),
    });
    this.subscriptions.set(id, sub);
    return sub;
  }

  // ---- What the Billing tab's test checkout and test portal can do ----

  async simulate(user: { id: string; email: string | null }, input: TSimulateInput): Promise<SimulationResult> {
    switch (input.action) {
      case 'complete_checkout':
        return this.completeCheckout(user, input.sessionId);
      case 'refund_last_pack':
        return this.refundLastPack(user.id);
      default:
        return this.changeSubscription(user.id, input.action);
    }
  }

  private openSession(session: Omit<SimSession, 'id'>): { id: string; url: string } {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (now - s.createdAt > SESSION_TTL_MS) this.sessions.delete(id);
    const id = `cs_sim_${stripeId('x', 32).slice(2)}`;
    this.sessions.set(id, { ...session, id, createdAt: now });
    return { id, url: `/billing?simulated_checkout=${id}` };
  }

  /** Public view of a pending simulated checkout, for the test checkout page. */
  describeSession(
    userId: string,
    sessionId: string,
  ): { kind: SimSession['kind']; priceId: string; amountCents: number; metadata: Record<string, string> } | null {
    const session = this.sessions.get(sessionId);
    if (!session || session.userId !== userId) return null;
    return { kind: session.kind, priceId: session.priceId, amountCents: session.amountCents, metadata: session.metadata };
  }

  private async completeCheckout(user: { id: string; email: string | null }, sessionId: string | undefined): Promise<SimulationResult> {
    const found = sessionId ? this.sessions.get(sessionId) : undefined;
    if (!found || found.userId !== user.id)
      throw new AppError('not_found', 'That test checkout has expired or was already completed. Start again from the Billing tab.');
    this.sessions.delete(found.id);
    // Stripe fills the placeholder in the success URL; so does the simulator.
    const session = { ...found, successUrl: found.successUrl?.replace('{CHECKOUT_SESSION_ID}', found.id) ?? null };
    const now = unixNow();
    const outcomes: string[] = [];

    if (session.kind === 'plan_change') {
      const current = await this.retrieveSubscription(session.subscriptionId!);
      const next = this.rebuild(current, { priceId: session.priceId, metadata: { ...current.metadata, plan_id: session.metadata.plan_id ?? '' } });
      outcomes.push(await this.send('customer.subscription.updated', next, now, { items: current.items }));
      return { outcomes, redirectTo: session.successUrl };
    }

    if (session.kind === 'subscription') {
      const interval = this.intervalOf(session.priceId);
      const sub = subscriptionObject({
        customer: session.customer,
        priceId: session.priceId,
        unitAmount: session.amountCents,
        interval,
        status: 'active',
        periodStart: now,
        periodEnd: periodEnd(now, interval),
        metadata: { user_id: session.userId, plan_id: session.metadata.plan_id ?? '' },
        created: now,
      });
      const invoice = invoiceObject({
        customer: session.customer,
        subscription: sub.id,
        subscriptionMetadata: sub.metadata,
        priceId: session.priceId,
        amount: session.amountCents,
        status: 'paid',
        billingReason: 'subscription_create',
        periodStart: now,
        periodEnd: periodEnd(now, interval),
        created: now,
      });
      this.subscriptions.set(sub.id, { ...sub, latest_invoice: invoice.id });
      const completed = checkoutSessionObject({
        id: session.id,
        mode: 'subscription',
        customer: session.customer,
        clientReferenceId: session.userId,
        metadata: session.metadata,
        amountTotal: session.amountCents,
        status: 'complete',
        paymentStatus: 'paid',
        subscription: sub.id,
        invoice: invoice.id,
        successUrl: session.successUrl,
        cancelUrl: session.cancelUrl,
        customerEmail: user.email,
        created: now,
      });
      outcomes.push(await this.send('checkout.session.completed', completed, now));
      outcomes.push(await this.send('customer.subscription.created', this.subscriptions.get(sub.id)!, now));
      outcomes.push(await this.send('invoice.paid', invoice, now));
      return { outcomes, redirectTo: session.successUrl };
    }

    const completed = checkoutSessionObject({
      id: session.id,
      mode: 'payment',
      customer: session.customer,
      clientReferenceId: session.userId,
      metadata: session.metadata,
      amountTotal: session.amountCents,
      status: 'complete',
      paymentStatus: 'paid',
      paymentIntent: stripeId('pi'),
      successUrl: session.successUrl,
      cancelUrl: session.cancelUrl,
      customerEmail: user.email,
      created: now,
    });
    outcomes.push(await this.send('checkout.session.completed', completed, now));
    return { outcomes, redirectTo: session.successUrl };
  }

  private async currentSubscription(userId: string): Promise<Stripe.Subscription> {
    const row = await this.options.prisma.subscription.findFirst({
      where: { userId, status: { notIn: ['canceled', 'incomplete_expired'] } },
      orderBy: { updatedAt: 'desc' },
      select: { id: true },
    });
    if (!row) throw new AppError('not_found', 'There is no subscription to change. Choose a plan first.');
    return this.retrieveSubscription(row.id);
  }

  private rebuild(
    sub: Stripe.Subscription,
    change: Partial<{
      priceId: string;
      status: Stripe.Subscription.Status;
      periodStart: number;
      periodEnd: number;
      cancelAtPeriodEnd: boolean;
      canceledAt: number | null;
      endedAt: number | null;
      metadata: Record<string, string>;
    }>,
  ): Stripe.Subscription {
    const item = sub.items.data[0]!;
    const priceId = change.priceId ?? item.price.id;
    const next = subscriptionObject({
      id: sub.id,
      customer: String(sub.customer),
      priceId,
      unitAmount: this.options.priceAmounts.get(priceId) ?? item.price.unit_amount ?? 0,
      interval: this.intervalOf(priceId),
      status: change.status ?? sub.status,
      periodStart: change.periodStart ?? item.current_period_start,
      periodEnd: change.periodEnd ?? item.current_period_end,
      cancelAtPeriodEnd: change.cancelAtPeriodEnd ?? sub.cancel_at_period_end,
      canceledAt: change.canceledAt !== undefined ? change.canceledAt : sub.canceled_at,
      endedAt: change.endedAt !== undefined ? change.endedAt : sub.ended_at,
      metadata: change.metadata ?? (sub.metadata as Record<string, string>),
      created: sub.created,
      itemId: item.id,
      latestInvoice: typeof sub.latest_invoice === 'string' ? sub.latest_invoice : null,
    });
    this.subscriptions.set(sub.id, next);
    return next;
  }

  private async changeSubscription(
    userId: string,
    action: Exclude<TSimulateInput['action'], 'complete_checkout' | 'refund_last_pack'>,
  ): Promise<SimulationResult> {
    const current = await this.currentSubscription(userId);
    const item = current.items.data[0]!;
    const now = unixNow();
    const outcomes: string[] = [];
    switch (action) {
      case 'cancel_at_period_end':
      case 'resume': {
        const cancel = action === 'cancel_at_period_end';
        const next = this.rebuild(current, { cancelAtPeriodEnd: cancel, canceledAt: cancel ? now : null });
        outcomes.push(await this.send('customer.subscription.updated', next, now, { cancel_at_period_end: !cancel }));
        break;
      }
      case 'payment_failed': {
        const invoice = invoiceObject({
          customer: String(current.customer),
          subscription: current.id,
          subscriptionMetadata: current.metadata,
          priceId: item.price.id,
          amount: item.price.unit_amount ?? 0,
          status: 'open',
          billingReason: 'subscription_cycle',
          periodStart: now,
          periodEnd: periodEnd(now, this.intervalOf(item.price.id)),
          created: now,
        });
        const next = this.rebuild(current, { status: 'past_due' });
        outcomes.push(await this.send('invoice.payment_failed', invoice, now));
        outcomes.push(await this.send('customer.subscription.updated', next, now, { status: current.status }));
        break;
      }
      case 'renew': {
        // The next period starts now (a test clock jumping to the renewal date).
        const start = now;
        const end = periodEnd(start, this.intervalOf(item.price.id));
        const invoice = invoiceObject({
          customer: String(current.customer),
          subscription: current.id,
          subscriptionMetadata: current.metadata,
          priceId: item.price.id,
          amount: item.price.unit_amount ?? 0,
          status: 'paid',
          billingReason: 'subscription_cycle',
          periodStart: start,
          periodEnd: end,
          created: now,
        });
        const next = this.rebuild(current, { status: 'active', periodStart: start, periodEnd: end });
        outcomes.push(await this.send('customer.subscription.updated', next, now, { status: current.status }));
        outcomes.push(await this.send('invoice.paid', invoice, now));
        break;
      }
      case 'cancel_now': {
        const next = this.rebuild(current, { status: 'canceled', canceledAt: now, endedAt: now, cancelAtPeriodEnd: false });
        outcomes.push(await this.send('customer.subscription.deleted', next, now));
        break;
      }
    }
    return { outcomes, redirectTo: null };
  }

  private async refundLastPack(userId: string): Promise<SimulationResult> {
    const purchase = await this.options.prisma.packPurchase.findFirst({
      where: { userId, paymentIntentId: { not: null }, refundTokens: 0n },
      orderBy: { createdAt: 'desc' },
      select: { packId: true, paymentIntentId: true, amountMicroUsd: true },
    });
    if (!purchase?.paymentIntentId) throw new AppError('not_found', 'There is no credit pack purchase to refund.');
    const customer = await this.options.prisma.billingCustomer.findUnique({ where: { userId }, select: { stripeCustomerId: true } });
    const amount = microsToCents(Number(purchase.amountMicroUsd));
    const charge = chargeObject({
      customer: customer?.stripeCustomerId ?? stripeId('cus_sim', 14),
      paymentIntent: purchase.paymentIntentId,
      amount,
      amountRefunded: amount,
      metadata: { user_id: userId, pack_id: purchase.packId },
    });
    return { outcomes: [await this.send('charge.refunded', charge, unixNow())], redirectTo: null };
  }

  private async send(type: string, object: { id: string; object: string }, created: number, previousAttributes?: Record<string, unknown>): Promise<string> {
    if (!this.deliver) throw new Error('simulator: no webhook handler attached');
    const payload = JSON.stringify(eventObject(type, object, { created, ...(previousAttributes ? { previousAttributes } : {}) }), null, 2);
    const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: this.options.webhookSecret });
    const result = await this.deliver(payload, signature);
    if (result.status !== 200 || !('received' in result.body)) {
      const message = 'error' in result.body ? result.body.error.message : `status ${result.status}`;
      throw new Error(`simulator: the webhook handler refused ${type}: ${message}`);
    }
    return `${type}: ${result.body.outcome}`;
  }
}
