// POST /webhooks/stripe. The signature is checked against the raw body (300 s
// tolerance); a verified event is stored by its id first, then applied in one
// transaction that starts by locking that row, so a replay or a concurrent
// duplicate finds it processed and changes nothing. A failure rolls the effects
// back, keeps the row unprocessed with the error, and answers 500 so Stripe
// delivers it again. Subscriptions follow Stripe's current state, not the order
// events arrive in (see docs/billing.md).
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import { centsToMicros } from '@chatmeter/shared/money';
import type { TPlan } from '@chatmeter/shared/plans';
import Stripe from 'stripe';
import { z } from 'zod';
import { nestedDeeperThan } from '../lib/json-depth.ts';
import type { Logger } from '../lib/logger.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { Tx } from '../metering/counters.ts';
import { addCredits, takeCreditsUpTo } from '../metering/credits.ts';
import type { BillingConfig } from './config.ts';
import { graceEndsAt } from './effective-plan.ts';
import type { BillingGateway } from './gateway.ts';
import {
  PermanentEventError,
  RetryLaterError,
  StaleSnapshotError,
  stripeRef,
  type SubscriptionStore,
} from './subscription-store.ts';

export const SIGNATURE_TOLERANCE_SECONDS = 300;
/** Stripe's events nest about ten levels; far more is not an event. */
const MAX_EVENT_DEPTH = 64;

export interface WebhookResult {
  status: number;
  body: { received: true; outcome: string } | { error: { reason: string; message: string } };
}

const ZEventEnvelope = z
  .object({
    id: z.string().min(1).max(255),
    type: z.string().min(1).max(255),
    created: z.number().int().nonnegative(),
    livemode: z.boolean().optional(),
    data: z.object({ object: z.record(z.string(), z.unknown()) }).loose(),
  })
  .loose();

const SUBSCRIPTION_EVENTS = new Set([
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'customer.subscription.paused',
  'customer.subscription.resumed',
  'customer.subscription.pending_update_applied',
  'customer.subscription.pending_update_expired',
]);

interface Prepared {
  subscription?: Stripe.Subscription;
  source?: 'snapshot' | 'retrieved';
}

interface Applied {
  outcome: string;
  /** Side effects that must not be repeated or rolled back (e-mail), run after the commit. */
  after?: () => Promise<void>;
}

export interface WebhookHandlerOptions {
  prisma: PrismaClient;
  logger: Logger;
  config: BillingConfig;
  gateway: BillingGateway | undefined;
  store: SubscriptionStore;
  plans: readonly TPlan[];
  mailer: Mailer;
  /** Absolute origin for links in e-mails. */
  origin: string;
}

function fail(status: number, reason: string, message: string): WebhookResult {
  return { status, body: { error: { reason, message } } };
}

function invoiceSubscriptionId(invoice: Stripe.Invoice): string | null {
  const fromParent = invoice.parent?.subscription_details?.subscription;
  const legacy = (invoice as unknown as { subscription?: string | { id: string } | null }).subscription;
  return stripeRef((fromParent ?? legacy ?? null) as string | { id: string } | null);
}

export class WebhookHandler {
  constructor(private readonly o: WebhookHandlerOptions) {}

  /** Verifies and applies one delivery. Never throws: every outcome is an HTTP answer. */
  async handle(rawBody: Buffer, signature: string | undefined, now = new Date()): Promise<WebhookResult> {
    const secret = this.o.config.webhookSecret;
    if (!secret) return fail(503, 'billing_not_configured', 'Billing is not configured (no STRIPE_WEBHOOK_SECRET).');
    if (!signature) return fail(400, 'invalid_input', 'Missing Stripe-Signature header.');
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(rawBody, signature, secret, SIGNATURE_TOLERANCE_SECONDS);
    } catch (error) {
      const message = error instanceof Stripe.errors.StripeSignatureVerificationError ? 'Bad or expired signature.' : 'The body is not a Stripe event.';
      return fail(400, 'invalid_input', message);
    }
    // Postgres's jsonb parser recurses: an absurdly nested payload would fail the insert (a 500 Stripe retries forever).
    if (nestedDeeperThan(event, MAX_EVENT_DEPTH) || !ZEventEnvelope.safeParse(event).success) return fail(400, 'invalid_input', 'The body is not a Stripe event.');
    try {
      return await this.process(event, rawBody.toString('utf8'), now);
    } catch (error) {
      this.o.logger.error({ err: error, eventId: event.id, type: event.type }, 'stripe webhook: could not record the event');
      return fail(500, 'internal', 'The event could not be recorded; Stripe will deliver it again.');
    }
  }

  private async process(event: Stripe.Event, payload: string, now: Date): Promise<WebhookResult> {
    const { prisma, logger } = this.o;
    const inserted = await prisma.$executeRaw(Prisma.sql`
      INSERT INTO stripe_events (id, type, stripe_created_at, livemode, payload)
      VALUES (${event.id}, ${event.type}, ${new Date(event.created * 1000)}, ${event.livemode === true}, ${payload}::jsonb)
      ON CONFLICT (id) DO NOTHING`);
    if (inserted === 0) {
      const seen = await prisma.stripeEvent.findUnique({ where: { id: event.id }, select: { processedAt: true, outcome: true } });
      if (seen?.processedAt) return { status: 200, body: { received: true, outcome: 'duplicate' } };
    }

    for (let attempt = 0; ; attempt++) {
      try {
        const prepared = await this.prepare(event, attempt > 0);
        const applied = await prisma.$transaction(
          async (tx) => {
            const rows = await tx.$queryRaw<{ processed_at: Date | null }[]>(Prisma.sql`
              SELECT processed_at FROM stripe_events WHERE id = ${event.id} FOR UPDATE`);
            if (rows[0]?.processed_at) return { outcome: 'duplicate' } satisfies Applied;
            const result = await this.apply(tx, event, prepared, now);
            await tx.$executeRaw(Prisma.sql`
              UPDATE stripe_events SET processed_at = ${now}, outcome = ${result.outcome}, error = NULL, attempts = attempts + 1
               WHERE id = ${event.id}`);
            return result;
          },
          { maxWait: 10_000, timeout: 30_000 },
        );
        if (applied.after) await applied.after().catch((error: Error) => logger.warn({ err: error.message, eventId: event.id }, 'stripe webhook: follow-up failed'));
        logger.info({ eventId: event.id, type: event.type, outcome: applied.outcome }, 'stripe event');
        return { status: 200, body: { received: true, outcome: applied.outcome } };
      } catch (error) {
        if (error instanceof StaleSnapshotError && attempt < 3) continue;
        const message = error instanceof Error ? error.message : String(error);
        if (error instanceof PermanentEventError) {
          await prisma.$executeRaw(Prisma.sql`
            UPDATE stripe_events SET processed_at = ${now}, outcome = 'rejected', error = ${message.slice(0, 2000)}, attempts = attempts + 1
             WHERE id = ${event.id} AND processed_at IS NULL`);
          logger.warn({ eventId: event.id, type: event.type, err: message }, 'stripe event acknowledged but not applied');
          return { status: 200, body: { received: true, outcome: 'rejected' } };
        }
        await prisma.$executeRaw(Prisma.sql`
          UPDATE stripe_events SET error = ${message.slice(0, 2000)}, attempts = attempts + 1
           WHERE id = ${event.id} AND processed_at IS NULL`).catch(() => {});
        if (error instanceof RetryLaterError) {
          logger.warn({ eventId: event.id, type: event.type, err: message }, 'stripe event deferred; Stripe will deliver it again');
          return fail(409, 'conflict', message);
        }
        logger.error({ err: error, eventId: event.id, type: event.type }, 'stripe event failed; Stripe will deliver it again');
        return fail(500, 'internal', 'The event could not be applied; Stripe will deliver it again.');
      }
    }
  }

  /** Network half (outside the transaction): fetch the subscription when the event's copy cannot be trusted. */
  private async prepare(event: Stripe.Event, forceRetrieve: boolean): Promise<Prepared> {
    const gateway = this.o.gateway;
    const object = event.data.object as unknown as Record<string, unknown>;
    if (SUBSCRIPTION_EVENTS.has(event.type)) {
      const snapshot = event.data.object as unknown as Stripe.Subscription;
      const id = typeof snapshot.id === 'string' ? snapshot.id : '';
      if (!forceRetrieve) {
        const stored = id ? await this.o.prisma.subscription.findUnique({ where: { id }, select: { stripeStateAt: true } }) : null;
        if (!stored || stored.stripeStateAt < new Date(event.created * 1000) || !gateway) return { subscription: snapshot, source: 'snapshot' };
      }
      if (!gateway) return { subscription: snapshot, source: 'snapshot' };
      return { subscription: await this.retrieve(id), source: 'retrieved' };
    }
    if (!gateway) return {};
    if (event.type === 'checkout.session.completed' && object.mode === 'subscription') {
      const id = stripeRef(object.subscription as string | { id: string } | null);
      return id ? { subscription: await this.retrieve(id), source: 'retrieved' } : {};
    }
    if (event.type === 'invoice.paid' || event.type === 'invoice.payment_failed') {
      const id = invoiceSubscriptionId(event.data.object as unknown as Stripe.Invoice);
      return id ? { subscription: await this.retrieve(id), source: 'retrieved' } : {};
    }
    return {};
  }

  private async retrieve(id: string): Promise<Stripe.Subscription> {
    if (!id.startsWith('sub_')) throw new PermanentEventError(`not a subscription id: ${id.slice(0, 64)}`);
    try {
      return await this.o.gateway!.retrieveSubscription(id);
    } catch (error) {
      if (error instanceof Stripe.errors.StripeInvalidRequestError && error.statusCode === 404) {
        throw new PermanentEventError(`Stripe does not know subscription ${id}`);
      }
      throw error;
    }
  }

  private async apply(tx: Tx, event: Stripe.Event, prepared: Prepared, now: Date): Promise<Applied> {
    const asOf = new Date(event.created * 1000);
    switch (event.type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded':
        return this.checkoutCompleted(tx, event, event.data.object as unknown as Stripe.Checkout.Session, prepared, now);
      case 'invoice.paid':
      case 'invoice.payment_failed':
        return this.invoice(tx, event, event.data.object as unknown as Stripe.Invoice, prepared, now);
      case 'charge.refunded':
        return this.chargeRefunded(tx, event, event.data.object as unknown as Stripe.Charge);
      default:
        if (SUBSCRIPTION_EVENTS.has(event.type) && prepared.subscription && prepared.source) {
          try {
            const result = await this.o.store.apply(tx, prepared.subscription, { asOf, source: prepared.source, now });
            return { outcome: `subscription_${result.subscription.status}${prepared.source === 'retrieved' ? '_retrieved' : ''}` };
          } catch (error) {
            // Without a Stripe API to ask, an out-of-date copy is simply not applied.
            if (error instanceof StaleSnapshotError && !this.o.gateway) return { outcome: 'stale_ignored' };
            throw error;
          }
        }
        return { outcome: 'ignored' };
    }
  }

  private async checkoutCompleted(tx: Tx, event: Stripe.Event, session: Stripe.Checkout.Session, prepared: Prepared, now: Date): Promise<Applied> {
    const { store } = this.o;
    if (typeof session.id !== 'string') throw new PermanentEventError('the event does not carry a checkout session');
    const customerId = stripeRef(session.customer as string | { id: string } | null);
    const userId =
      (await store.findAccount(tx, session.client_reference_id)) ??
      (await store.findAccount(tx, session.metadata?.user_id)) ??
      (await store.userForCustomer(tx, customerId));
    if (!userId) throw new PermanentEventError(`no ChatMeter account for checkout session ${session.id}`);
    await store.rememberCustomer(tx, userId, customerId);

    if (session.mode === 'subscription') {
      if (!prepared.subscription) return { outcome: 'subscription_pending' };
      const result = await store.apply(tx, prepared.subscription, { asOf: new Date(event.created * 1000), source: 'retrieved', userIdHint: userId, now });
      return { outcome: `subscription_${result.subscription.status}` };
    }
    if (session.mode !== 'payment') return { outcome: 'ignored' };
    if (session.payment_status !== 'paid' && session.payment_status !== 'no_payment_required') return { outcome: 'awaiting_payment' };

    const pack = this.o.config.packs.find((p) => p.id === session.metadata?.pack_id);
    if (!pack) throw new PermanentEventError(`checkout session ${session.id} is not for a known credit pack`);
    const paymentIntent = stripeRef(session.payment_intent as string | { id: string } | null);
    const amountMicros = centsToMicros(Math.max(0, session.amount_total ?? 0));
    // The purchase row is the grant's idempotency key: a second event for the same
    // session (completed, then async_payment_succeeded) grants nothing more.
    const created = await tx.$queryRaw<{ checkout_session_id: string }[]>(Prisma.sql`
      INSERT INTO pack_purchases (checkout_session_id, user_id, pack_id, tokens, amount_micro_usd, payment_intent_id, source_event_id)
      VALUES (${session.id}, ${userId}::uuid, ${pack.id}, ${BigInt(pack.tokens)}, ${BigInt(amountMicros)}, ${paymentIntent}, ${event.id})
      ON CONFLICT (checkout_session_id) DO NOTHING
      RETURNING checkout_session_id`);
    if (created.length === 0) return { outcome: 'pack_already_granted' };
    await addCredits(tx, { userId, kind: 'purchase', reason: `credit pack ${pack.id} (${pack.name})`, sourceEventId: event.id }, BigInt(pack.tokens));
    await tx.$executeRaw(Prisma.sql`
      INSERT INTO payments (user_id, kind, status, amount_micro_usd, currency, description, stripe_object_id, stripe_payment_intent_id, stripe_event_id)
      VALUES (${userId}::uuid, 'pack', 'paid', ${BigInt(amountMicros)}, ${session.currency ?? 'usd'}, ${`Credit pack: ${pack.name}`}, ${session.id}, ${paymentIntent}, ${event.id})
      ON CONFLICT (stripe_object_id) DO NOTHING`);
    return { outcome: 'pack_granted' };
  }

  private async invoice(tx: Tx, event: Stripe.Event, invoice: Stripe.Invoice, prepared: Prepared, now: Date): Promise<Applied> {
    const { store, config, plans } = this.o;
    if (typeof invoice.id !== 'string') throw new PermanentEventError('the event does not carry an invoice');
    const subscriptionId = invoiceSubscriptionId(invoice);
    if (!subscriptionId) return { outcome: 'ignored' };
    const paid = event.type === 'invoice.paid';

    let userId: string | null = null;
    let planId: string | null = null;
    if (prepared.subscription) {
      const applied = await store.apply(tx, prepared.subscription, { asOf: new Date(event.created * 1000), source: 'retrieved', now });
      userId = applied.userId;
      planId = applied.subscription.priceId ? (config.planByPrice.get(applied.subscription.priceId) ?? null) : null;
    } else {
      const row = await tx.subscription.findUnique({ where: { id: subscriptionId }, select: { userId: true, planId: true } });
      userId = row?.userId ?? (await store.userForCustomer(tx, stripeRef(invoice.customer as string | { id: string } | null)));
      planId = row?.planId ?? null;
    }
    if (!userId) throw new PermanentEventError(`no ChatMeter account for invoice ${invoice.id}`);

    const planName = plans.find((p) => p.id === planId)?.name ?? 'Subscription';
    const reason = invoice.billing_reason === 'subscription_create' ? 'first month' : invoice.billing_reason === 'subscription_cycle' ? 'renewal' : 'change';
    const cents = paid ? invoice.amount_paid : invoice.amount_due;
    const amountMicros = BigInt(centsToMicros(Math.max(0, Number.isSafeInteger(cents) ? cents : 0)));
    // One row per invoice: a later success replaces a failure, never the other way round.
    await tx.$executeRaw(Prisma.sql`
      INSERT INTO payments (user_id, kind, status, amount_micro_usd, currency, description, stripe_object_id, stripe_event_id)
      VALUES (${userId}::uuid, 'subscription', ${paid ? 'paid' : 'failed'}, ${amountMicros}, ${invoice.currency ?? 'usd'},
              ${`${planName} plan (${reason})`}, ${invoice.id}, ${event.id})
      ON CONFLICT (stripe_object_id) DO UPDATE
         SET status = EXCLUDED.status, amount_micro_usd = EXCLUDED.amount_micro_usd, stripe_event_id = EXCLUDED.stripe_event_id, updated_at = now()
       WHERE payments.status = 'failed' AND EXCLUDED.status = 'paid'`);
    if (paid) return { outcome: 'invoice_paid' };

    const sub = await tx.subscription.findUnique({
      where: { id: subscriptionId },
      select: { status: true, planId: true, pastDueSince: true, currentPeriodStart: true, currentPeriodEnd: true, cancelAtPeriodEnd: true },
    });
    const user = await tx.user.findUnique({ where: { id: userId }, select: { email: true } });
    const graceEnd = sub ? graceEndsAt(sub, config.graceDays) : null;
    const email = user?.email;
    return {
      outcome: 'invoice_payment_failed',
      after: email
        ? () =>
            this.o.mailer.send({
              to: email,
              subject: 'ChatMeter: your payment did not go through',
              body: [
                `We could not collect the payment for your ${planName} plan.`,
                graceEnd
                  ? `Your ${planName} limits stay in place until ${graceEnd.toUTCString()}; after that your account moves to the Free plan.`
                  : 'Stripe will try again over the next days.',
                `Update your card under Billing -> Manage billing: ${this.o.origin}/billing`,
              ].join('\n\n'),
            })
        : undefined,
    };
  }

  private async chargeRefunded(tx: Tx, event: Stripe.Event, charge: Stripe.Charge): Promise<Applied> {
    const paymentIntent = stripeRef(charge.payment_intent as string | { id: string } | null);
    if (!paymentIntent) return { outcome: 'ignored' };
    const rows = await tx.$queryRaw<{ checkout_session_id: string; user_id: string; pack_id: string; tokens: bigint; refund_tokens: bigint }[]>(Prisma.sql`
      SELECT checkout_session_id, user_id, pack_id, tokens, refund_tokens
        FROM pack_purchases WHERE payment_intent_id = ${paymentIntent} FOR UPDATE`);
    const purchase = rows[0];
    if (!purchase) {
      // Charges of credit packs carry the pack in their metadata: the purchase event
      // has not been applied yet, so ask Stripe for this one again later.
      if (charge.metadata?.pack_id) throw new RetryLaterError(`refund of ${paymentIntent} arrived before its purchase`);
      return { outcome: 'ignored' };
    }
    const amount = BigInt(Math.max(0, charge.amount ?? 0));
    const refunded = BigInt(Math.min(Math.max(0, charge.amount_refunded ?? 0), charge.amount ?? 0));
    // Refunds are cumulative on the charge, so replays and out-of-order deliveries
    // only ever move the target up.
    const target = charge.refunded === true || (amount > 0n && refunded >= amount) ? purchase.tokens : amount > 0n ? (purchase.tokens * refunded) / amount : 0n;
    const due = target - purchase.refund_tokens;
    if (due <= 0n) return { outcome: 'refund_no_change' };
    const taken = await takeCreditsUpTo(
      tx,
      { userId: purchase.user_id, kind: 'refund', reason: `refund of credit pack ${purchase.pack_id}: ${due} tokens due back`, sourceEventId: event.id },
      due,
    );
    const refundedMicros = BigInt(centsToMicros(Number(refunded)));
    await tx.$executeRaw(Prisma.sql`
      UPDATE pack_purchases
         SET refund_tokens = ${target}, clawed_back_tokens = clawed_back_tokens + ${taken},
             refunded_micro_usd = GREATEST(refunded_micro_usd, ${refundedMicros}), updated_at = now()
       WHERE checkout_session_id = ${purchase.checkout_session_id}`);
    await tx.$executeRaw(Prisma.sql`
      UPDATE payments
         SET refunded_micro_usd = GREATEST(refunded_micro_usd, ${refundedMicros}),
             status = CASE WHEN ${target === purchase.tokens} THEN 'refunded' ELSE 'partially_refunded' END, updated_at = now()
       WHERE stripe_object_id = ${purchase.checkout_session_id}`);
    return { outcome: taken < due ? 'pack_refunded_partly_spent' : 'pack_refunded' };
  }
}

