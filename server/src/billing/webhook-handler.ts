// POST /webhooks/stripe. The signature is checked against the raw body (300 s
// tolerance); a verified event is stored by its id first, then applied in one
// transaction that starts by locking that row, so a replay or a concurrent
// duplicate finds it processed and changes nothing. A failure rolls the effects
// back, keeps the row unprocessed with the error, and answers 500 so Stripe
// delivers it again; an event that can never apply (its object cannot be read,
// see stripe-payloads.ts, or it is about no account of ours) is acknowledged as
// `rejected` with nothing written. Subscriptions follow Stripe's current state,
// not the order events arrive in (see docs/billing.md).
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import { centsToMicros } from '@chatmeter/shared/money';
import type { TPlan } from '@chatmeter/shared/plans';
import Stripe from 'stripe';
import { z } from 'zod';
import { nestedDeeperThan } from '../lib/json-depth.ts';
import type { Logger } from '../lib/logger.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { Tx } from '../metering/counters.ts';
import { addCredits, type CreditChange, takeCreditsUpTo } from '../metering/credits.ts';
import type { BillingConfig } from './config.ts';
import { graceEndsAt } from './effective-plan.ts';
import { PermanentEventError, RetryLaterError, StaleSnapshotError } from './event-errors.ts';
import type { BillingGateway } from './gateway.ts';
import {
  DISPUTE_FINAL,
  parseSubscription,
  readCharge,
  readCheckoutSession,
  readDispute,
  readInvoice,
  type ChargePayload,
  type CheckoutSessionPayload,
  type DisputePayload,
  type InvoicePayload,
  type ParsedSubscription,
} from './stripe-payloads.ts';
import { lock, type SubscriptionStore } from './subscription-store.ts';

export const SIGNATURE_TOLERANCE_SECONDS = 300;
/** Stripe's events nest about ten levels; far more is not an event. */
const MAX_EVENT_DEPTH = 64;

export interface WebhookResult {
  status: number;
  body: { received: true; outcome: string } | { error: { reason: string; message: string } };
}

// What makes a body an event at all: without an id and a type it cannot be
// recorded or deduplicated (400). Everything else is checked per type, and an
// event that fails those checks is recorded and answered 200 `rejected`.
const ZEventEnvelope = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_]{1,255}$/),
    type: z.string().regex(/^[a-z0-9_.]{1,255}$/),
  })
  .loose();
const ZEventCreated = z.number().int().min(0).max(4_102_444_800);

/** The invoice events that mean "this invoice is paid": an endpoint may be subscribed to either, or both. */
const INVOICE_PAID_EVENTS = new Set(['invoice.paid', 'invoice.payment_succeeded']);

const SUBSCRIPTION_EVENTS = new Set([
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'customer.subscription.paused',
  'customer.subscription.resumed',
  'customer.subscription.pending_update_applied',
  'customer.subscription.pending_update_expired',
]);

/** The event's object, read and checked (stripe-payloads.ts) before anything is fetched or written. */
type Payload =
  | { kind: 'checkout'; session: CheckoutSessionPayload }
  | { kind: 'invoice'; invoice: InvoicePayload; paid: boolean }
  | { kind: 'refund'; charge: ChargePayload }
  | { kind: 'dispute'; dispute: DisputePayload; closed: boolean }
  | { kind: 'subscription'; subscription: ParsedSubscription }
  | { kind: 'other' };

interface Prepared {
  payload: Payload;
  subscription?: ParsedSubscription;
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

/**
 * The payload as it is stored: Postgres text and jsonb cannot hold NUL or lone
 * UTF-16 surrogates, which JSON can carry; they become U+FFFD so that storing an
 * odd but signed event can never fail.
 */
function storable(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  if (Array.isArray(value)) return value.map(storable);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k) as string, storable(v)]));
  }
  return value;
}

const storableText = (text: string): string => storable(text.slice(0, 2000)) as string;

interface PurchaseRow {
  checkout_session_id: string;
  user_id: string;
  pack_id: string;
  tokens: bigint;
  amount_micro_usd: bigint;
  refund_tokens: bigint;
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

export class WebhookHandler {
  constructor(private readonly options: WebhookHandlerOptions) {}

  /** Verifies and applies one delivery. Never throws: every outcome is an HTTP answer. */
  async handle(rawBody: Buffer, signature: string | undefined, now = new Date()): Promise<WebhookResult> {
    const secret = this.options.config.webhookSecret;
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
    if (!event || typeof event !== 'object' || nestedDeeperThan(event, MAX_EVENT_DEPTH) || !ZEventEnvelope.safeParse(event).success)
      return fail(400, 'invalid_input', 'The body is not a Stripe event.');
    try {
      return await this.process(event, now);
    } catch (error) {
      this.options.logger.error({ err: error, eventId: event.id, type: event.type }, 'stripe webhook: could not record the event');
      return fail(500, 'internal', 'The event could not be recorded; Stripe will deliver it again.');
    }
  }

  private async process(event: Stripe.Event, now: Date): Promise<WebhookResult> {
    const { prisma, logger } = this.options;
    const created = ZEventCreated.safeParse(event.created);
    const stripeCreatedAt = created.success ? new Date(created.data * 1000) : now;
    const payload = JSON.stringify(storable(event));
    const inserted = await prisma.$executeRaw(Prisma.sql`
      INSERT INTO stripe_events (id, type, stripe_created_at, livemode, payload)
      VALUES (${event.id}, ${event.type}, ${stripeCreatedAt}, ${event.livemode === true}, ${payload}::jsonb)
      ON CONFLICT (id) DO NOTHING`);
    if (inserted === 0) {
      const seen = await prisma.stripeEvent.findUnique({ where: { id: event.id }, select: { processedAt: true, outcome: true } });
      if (seen?.processedAt) return { status: 200, body: { received: true, outcome: 'duplicate' } };
    }

    for (let attempt = 0; ; attempt++) {
      try {
        if (!created.success) throw new PermanentEventError('the event has no valid `created` time');
        const prepared = await this.prepare(event, attempt > 0);
        const applied = await prisma.$transaction(
          async (tx) => {
            const rows = await tx.$queryRaw<{ processed_at: Date | null }[]>(Prisma.sql`
              SELECT processed_at FROM stripe_events WHERE id = ${event.id} FOR UPDATE`);
            if (rows[0]?.processed_at) return { outcome: 'duplicate' } satisfies Applied;
            const result = await this.apply(tx, event, stripeCreatedAt, prepared, now);
            await tx.$executeRaw(Prisma.sql`
              UPDATE stripe_events SET processed_at = ${now}, outcome = ${result.outcome}, error = NULL, attempts = attempts + 1
               WHERE id = ${event.id}`);
            return result;
          },
          { maxWait: 10_000, timeout: 30_000 },
        );
        if (applied.after)
          await applied.after().catch((error: Error) => logger.warn({ err: error.message, eventId: event.id }, 'stripe webhook: follow-up failed'));
        logger.info({ eventId: event.id, type: event.type, outcome: applied.outcome }, 'stripe event');
        return { status: 200, body: { received: true, outcome: applied.outcome } };
      } catch (error) {
        if (error instanceof StaleSnapshotError && attempt < 3) continue;
        const message = storableText(error instanceof Error ? error.message : String(error));
        if (error instanceof PermanentEventError) {
          await prisma.$executeRaw(Prisma.sql`
            UPDATE stripe_events SET processed_at = ${now}, outcome = 'rejected', error = ${message}, attempts = attempts + 1
             WHERE id = ${event.id} AND processed_at IS NULL`);
          logger.warn({ eventId: event.id, type: event.type, err: message }, 'stripe event acknowledged but not applied');
          return { status: 200, body: { received: true, outcome: 'rejected' } };
        }
        await prisma
          .$executeRaw(Prisma.sql`
          UPDATE stripe_events SET error = ${message}, attempts = attempts + 1
           WHERE id = ${event.id} AND processed_at IS NULL`)
          .catch(() => {});
        if (error instanceof RetryLaterError) {
          logger.warn({ eventId: event.id, type: event.type, err: message }, 'stripe event deferred; Stripe will deliver it again');
          return fail(409, 'conflict', message);
        }
        logger.error({ err: error, eventId: event.id, type: event.type }, 'stripe event failed; Stripe will deliver it again');
        return fail(500, 'internal', 'The event could not be applied; Stripe will deliver it again.');
      }
    }
  }

  /** Reads the event's object for the types ChatMeter applies; PermanentEventError when it cannot be read. */
  private read(event: Stripe.Event): Payload {
    const data: unknown = event.data;
    const object = data && typeof data === 'object' ? (data as { object?: unknown }).object : undefined;
    switch (event.type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded':
        return { kind: 'checkout', session: readCheckoutSession(object) };
      case 'invoice.paid':
      case 'invoice.payment_succeeded':
      case 'invoice.payment_failed':
        return { kind: 'invoice', invoice: readInvoice(object), paid: INVOICE_PAID_EVENTS.has(event.type) };
      case 'charge.refunded':
        return { kind: 'refund', charge: readCharge(object) };
      case 'charge.dispute.created':
      case 'charge.dispute.closed':
        return { kind: 'dispute', dispute: readDispute(object), closed: event.type === 'charge.dispute.closed' };
      default:
        return SUBSCRIPTION_EVENTS.has(event.type) ? { kind: 'subscription', subscription: parseSubscription(object) } : { kind: 'other' };
    }
  }

  /** Network half (outside the transaction): fetch the subscription when the event's copy cannot be trusted. */
  private async prepare(event: Stripe.Event, forceRetrieve: boolean): Promise<Prepared> {
    const gateway = this.options.gateway;
    const payload = this.read(event);
    switch (payload.kind) {
      case 'subscription': {
        const snapshot = payload.subscription;
        if (!forceRetrieve) {
          const stored = await this.options.prisma.subscription.findUnique({ where: { id: snapshot.id }, select: { stripeStateAt: true } });
          if (!stored || stored.stripeStateAt < new Date(event.created * 1000) || !gateway) return { payload, subscription: snapshot, source: 'snapshot' };
        }
        if (!gateway) return { payload, subscription: snapshot, source: 'snapshot' };
        return { payload, subscription: await this.retrieve(snapshot.id), source: 'retrieved' };
      }
      case 'checkout': {
        const id = payload.session.mode === 'subscription' ? payload.session.subscription : null;
        return id && gateway ? { payload, subscription: await this.retrieve(id), source: 'retrieved' } : { payload };
      }
      case 'invoice': {
        const id = payload.invoice.subscriptionId;
        return id && gateway ? { payload, subscription: await this.retrieve(id), source: 'retrieved' } : { payload };
      }
      default:
        return { payload };
    }
  }

  private async retrieve(id: string): Promise<ParsedSubscription> {
    if (!id.startsWith('sub_')) throw new PermanentEventError(`not a subscription id: ${id.slice(0, 64)}`);
    let sub: Stripe.Subscription;
    try {
      sub = await this.options.gateway!.retrieveSubscription(id);
    } catch (error) {
      if (error instanceof Stripe.errors.StripeInvalidRequestError && error.statusCode === 404) {
        throw new PermanentEventError(`Stripe does not know subscription ${id}`);
      }
      throw error;
    }
    return parseSubscription(sub);
  }

  private async apply(tx: Tx, event: Stripe.Event, asOf: Date, prepared: Prepared, now: Date): Promise<Applied> {
    const { payload } = prepared;
    switch (payload.kind) {
      case 'checkout':
        return this.checkoutCompleted(tx, event, asOf, payload.session, prepared, now);
      case 'invoice':
        return this.invoice(tx, event, asOf, payload.invoice, payload.paid, prepared, now);
      case 'refund':
        return this.chargeRefunded(tx, event, payload.charge);
      case 'dispute':
        return this.dispute(tx, event, payload.dispute, payload.closed, now);
      case 'subscription': {
        if (!prepared.subscription || !prepared.source) return { outcome: 'ignored' };
        try {
          const result = await this.options.store.apply(tx, prepared.subscription, { asOf, source: prepared.source, now });
          return { outcome: `subscription_${result.subscription.status}${prepared.source === 'retrieved' ? '_retrieved' : ''}` };
        } catch (error) {
          // Without a Stripe API to ask, an out-of-date copy is simply not applied.
          if (error instanceof StaleSnapshotError && !this.options.gateway) return { outcome: 'stale_ignored' };
          throw error;
        }
      }
      default:
        return { outcome: 'ignored' };
    }
  }

  private async checkoutCompleted(tx: Tx, event: Stripe.Event, asOf: Date, session: CheckoutSessionPayload, prepared: Prepared, now: Date): Promise<Applied> {
    const { store } = this.options;
    const userId =
      (await store.findAccount(tx, session.client_reference_id)) ??
      (await store.findAccount(tx, session.metadata?.user_id)) ??
      (await store.userForCustomer(tx, session.customer));
    if (!userId) throw new PermanentEventError(`no ChatMeter account for checkout session ${session.id}`);
    await store.rememberCustomer(tx, userId, session.customer);

    if (session.mode === 'subscription') {
      if (!prepared.subscription) return { outcome: 'subscription_pending' };
      const result = await store.apply(tx, prepared.subscription, { asOf, source: 'retrieved', userIdHint: userId, now });
      return { outcome: `subscription_${result.subscription.status}` };
    }
    if (session.mode !== 'payment') return { outcome: 'ignored' };
    if (session.payment_status !== 'paid' && session.payment_status !== 'no_payment_required') return { outcome: 'awaiting_payment' };

    const pack = this.options.config.packs.find((p) => p.id === session.metadata?.pack_id);
    if (!pack) throw new PermanentEventError(`checkout session ${session.id} is not for a known credit pack`);
    const paymentIntent = session.payment_intent;
    const amountMicros = BigInt(centsToMicros(session.amount_total ?? 0));
    // The purchase row is the grant's idempotency key: a second event for the same
    // session (completed, then async_payment_succeeded) grants nothing more.
    const created = await tx.$queryRaw<{ checkout_session_id: string }[]>(Prisma.sql`
      INSERT INTO pack_purchases (checkout_session_id, user_id, pack_id, tokens, amount_micro_usd, payment_intent_id, source_event_id)
      VALUES (${session.id}, ${userId}::uuid, ${pack.id}, ${BigInt(pack.tokens)}, ${amountMicros}, ${paymentIntent}, ${event.id})
      ON CONFLICT (checkout_session_id) DO NOTHING
      RETURNING checkout_session_id`);
    if (created.length === 0) return { outcome: 'pack_already_granted' };
    await addCredits(tx, { userId, kind: 'purchase', reason: `credit pack ${pack.id} (${pack.name})`, sourceEventId: event.id }, BigInt(pack.tokens));
    await tx.$executeRaw(Prisma.sql`
      INSERT INTO payments (user_id, kind, status, amount_micro_usd, currency, description, stripe_object_id, stripe_payment_intent_id, stripe_event_id)
      VALUES (${userId}::uuid, 'pack', 'paid', ${amountMicros}, ${session.currency ?? 'usd'}, ${`Credit pack: ${pack.name}`}, ${session.id}, ${paymentIntent}, ${event.id})
      ON CONFLICT (stripe_object_id) DO NOTHING`);
    return { outcome: 'pack_granted' };
  }

  /**
   * invoice.paid / invoice.payment_succeeded (the same fact, two event types with
   * their own event ids) and invoice.payment_failed. The payment row is keyed by the
   * invoice id, under a lock per invoice: whichever of the paid events comes first
   * records the payment, the other finds it paid and adds nothing.
   */
  private async invoice(tx: Tx, event: Stripe.Event, asOf: Date, invoice: InvoicePayload, paid: boolean, prepared: Prepared, now: Date): Promise<Applied> {
    const { store, config, plans } = this.options;
    const subscriptionId = invoice.subscriptionId;
    if (!subscriptionId) return { outcome: 'ignored' };
    await lock(tx, `billing-invoice:${invoice.id}`);

    let userId: string | null = null;
    let planId: string | null = null;
    let priceId: string | null = null;
    if (prepared.subscription) {
      const applied = await store.apply(tx, prepared.subscription, { asOf, source: 'retrieved', now });
      userId = applied.userId;
      priceId = applied.subscription.priceId;
      planId = config.planByPrice.get(priceId) ?? null;
    } else {
      const row = await tx.subscription.findUnique({ where: { id: subscriptionId }, select: { userId: true, planId: true, priceId: true } });
      userId = row?.userId ?? (await store.userForCustomer(tx, invoice.customer));
      planId = row?.planId ?? null;
      priceId = row?.priceId ?? null;
    }
    if (!userId) throw new PermanentEventError(`no ChatMeter account for invoice ${invoice.id}`);

    const recorded = await tx.payment.findUnique({ where: { stripeObjectId: invoice.id }, select: { status: true } });
    // Anything but a failure means the invoice was paid (later refunds included): it is never counted again.
    if (recorded && recorded.status !== 'failed') return { outcome: 'invoice_already_paid' };

    const planName = plans.find((p) => p.id === planId)?.name ?? 'Subscription';
    const first = priceId && config.priceIntervals.get(priceId) === 'year' ? 'first year' : 'first month';
    const reason = invoice.billing_reason === 'subscription_create' ? first : invoice.billing_reason === 'subscription_cycle' ? 'renewal' : 'change';
    const amountMicros = BigInt(centsToMicros(paid ? invoice.amount_paid : invoice.amount_due));
    // One row per invoice: a later success replaces a failure, never the other way round.
    await tx.$executeRaw(Prisma.sql`
      INSERT INTO payments (user_id, kind, status, amount_micro_usd, currency, description, stripe_object_id, stripe_event_id)
      VALUES (${userId}::uuid, 'subscription', ${paid ? 'paid' : 'failed'}, ${amountMicros}, ${invoice.currency},
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
            this.options.mailer.send({
              to: email,
              subject: 'ChatMeter: your payment did not go through',
              body: [
                `We could not collect the payment for your ${planName} plan.`,
                graceEnd
                  ? `Your ${planName} limits stay in place until ${graceEnd.toUTCString()}; after that your account moves to the Free plan.`
                  : 'Stripe will try again over the next days.',
                `Update your card under Billing -> Manage billing: ${this.options.origin}/billing`,
              ].join('\n\n'),
            })
        : undefined,
    };
  }

  /** The pack bought with this PaymentIntent, locked: refunds and disputes of one charge apply one at a time. */
  private async lockPurchase(tx: Tx, paymentIntent: string): Promise<PurchaseRow | undefined> {
    const rows = await tx.$queryRaw<PurchaseRow[]>(Prisma.sql`
      SELECT checkout_session_id, user_id, pack_id, tokens, amount_micro_usd, refund_tokens
        FROM pack_purchases WHERE payment_intent_id = ${paymentIntent} FOR UPDATE`);
    return rows[0];
  }

  private async chargeRefunded(tx: Tx, event: Stripe.Event, charge: ChargePayload): Promise<Applied> {
    const paymentIntent = charge.payment_intent;
    if (!paymentIntent) return { outcome: 'ignored' };
    const purchase = await this.lockPurchase(tx, paymentIntent);
    if (!purchase) {
      // Charges of credit packs carry the pack in their metadata: the purchase event
      // has not been applied yet, so ask Stripe for this one again later.
      if (charge.metadata?.pack_id) throw new RetryLaterError(`refund of ${paymentIntent} arrived before its purchase`);
      return { outcome: 'ignored' };
    }
    const amount = BigInt(charge.amount);
    const refunded = BigInt(charge.amount_refunded);
    // Refunds are cumulative on the charge, so replays and out-of-order deliveries
    // only ever move the target up.
    const target = charge.refunded || (amount > 0n && refunded >= amount) ? purchase.tokens : amount > 0n ? (purchase.tokens * refunded) / amount : 0n;
    const due = target - purchase.refund_tokens;
    if (due <= 0n) return { outcome: 'refund_no_change' };
    // Tokens an open dispute holds are this pack's unspent tokens, already out of the
    // balance: the refund claims them first, and only the rest from the balance.
    const holds = await tx.$queryRaw<{ dispute_id: string; left: bigint }[]>(Prisma.sql`
      SELECT dispute_id, held_tokens - refunded_from_hold_tokens AS left
        FROM pack_disputes
       WHERE checkout_session_id = ${purchase.checkout_session_id} AND status = 'open' AND held_tokens > refunded_from_hold_tokens
       ORDER BY created_at, dispute_id FOR UPDATE`);
    let fromHolds = 0n;
    for (const hold of holds) {
      const claim = hold.left < due - fromHolds ? hold.left : due - fromHolds;
      if (claim <= 0n) break;
      await tx.$executeRaw(Prisma.sql`
        UPDATE pack_disputes SET refunded_from_hold_tokens = refunded_from_hold_tokens + ${claim}, updated_at = now()
         WHERE dispute_id = ${hold.dispute_id}`);
      fromHolds += claim;
    }
    const { taken } = await takeCreditsUpTo(
      tx,
      {
        userId: purchase.user_id,
        kind: 'refund',
        reason: `refund of credit pack ${purchase.pack_id}: ${due} tokens due back${fromHolds > 0n ? ` (${fromHolds} of them held by a dispute)` : ''}`,
        sourceEventId: event.id,
      },
      due - fromHolds,
    );
    const refundedMicros = BigInt(centsToMicros(charge.amount_refunded));
    await tx.$executeRaw(Prisma.sql`
      UPDATE pack_purchases
         SET refund_tokens = ${target}, clawed_back_tokens = clawed_back_tokens + ${fromHolds + taken},
             refunded_micro_usd = GREATEST(refunded_micro_usd, ${refundedMicros}), updated_at = now()
       WHERE checkout_session_id = ${purchase.checkout_session_id}`);
    await tx.$executeRaw(Prisma.sql`
      UPDATE payments
         SET refunded_micro_usd = GREATEST(refunded_micro_usd, ${refundedMicros}),
             status = CASE WHEN ${target === purchase.tokens} THEN 'refunded' ELSE 'partially_refunded' END, updated_at = now()
       WHERE stripe_object_id = ${purchase.checkout_session_id}`);
    return { outcome: fromHolds + taken < due ? 'pack_refunded_partly_spent' : 'pack_refunded' };
  }

  /**
   * charge.dispute.created holds the disputed pack's unspent tokens; charge.dispute.closed
   * gives back what is still held when the dispute is won (or the inquiry closed, or it
   * was prevented) and keeps it out when lost. Keyed by the dispute id (pack_disputes),
   * so replays, both events twice, or the closing event first all end the same way.
   */
  private async dispute(tx: Tx, event: Stripe.Event, dispute: DisputePayload, closed: boolean, now: Date): Promise<Applied> {
    // Checkout charges always come from a PaymentIntent; a dispute without one is not about a pack.
    const paymentIntent = dispute.payment_intent;
    if (!paymentIntent) return { outcome: 'ignored' };
    const final = closed ? (DISPUTE_FINAL as Record<string, 'won' | 'lost' | undefined>)[dispute.status] : undefined;
    if (closed && !final) throw new PermanentEventError(`dispute ${dispute.id} closed with status ${dispute.status}, which ends nothing`);
    const purchase = await this.lockPurchase(tx, paymentIntent);
    if (!purchase) return { outcome: 'ignored' };
    const rows = await tx.$queryRaw<{ status: string; held_tokens: bigint; refunded_from_hold_tokens: bigint }[]>(Prisma.sql`
      SELECT status, held_tokens, refunded_from_hold_tokens FROM pack_disputes WHERE dispute_id = ${dispute.id} FOR UPDATE`);
    const existing = rows[0];
    if (existing && (existing.status !== 'open' || !closed)) return { outcome: existing.status === 'open' ? 'dispute_no_change' : 'dispute_already_closed' };

    const amountMicros = BigInt(centsToMicros(dispute.amount));
    // A dispute for part of the charge stands for that part of the pack.
    const disputed =
      purchase.amount_micro_usd > 0n && amountMicros < purchase.amount_micro_usd
        ? (purchase.tokens * amountMicros) / purchase.amount_micro_usd
        : purchase.tokens;
    const change = <K extends 'dispute_hold' | 'dispute_release' | 'dispute_loss'>(kind: K, what: string): CreditChange<K> => ({
      userId: purchase.user_id,
      kind,
      reason: `dispute ${dispute.id} on credit pack ${purchase.pack_id}: ${what}`,
      sourceEventId: event.id,
    });

    if (!closed) {
      const { taken: held } = await takeCreditsUpTo(
        tx,
        change('dispute_hold', 'unspent tokens held'),
        min(disputed, await this.packRoom(tx, purchase, dispute.id)),
      );
      await tx.$executeRaw(Prisma.sql`
        INSERT INTO pack_disputes (dispute_id, checkout_session_id, user_id, status, stripe_status, amount_micro_usd, disputed_tokens, held_tokens, opened_event_id)
        VALUES (${dispute.id}, ${purchase.checkout_session_id}, ${purchase.user_id}::uuid, 'open', ${dispute.status}, ${amountMicros}, ${disputed}, ${held}, ${event.id})`);
      return { outcome: 'dispute_credits_held' };
    }

    const stillHeld = existing ? existing.held_tokens - existing.refunded_from_hold_tokens : 0n;
    let released = 0n;
    let removed = 0n;
    if (final === 'won') {
      if (stillHeld > 0n) await addCredits(tx, change('dispute_release', 'won, held tokens given back'), stillHeld);
      released = stillHeld;
    } else {
      // Lost: what is held stays out. Nothing held (the closing event came first): take the pack's unspent tokens now.
      removed = existing
        ? stillHeld
        : (await takeCreditsUpTo(tx, change('dispute_loss', 'lost, unspent tokens removed'), min(disputed, await this.packRoom(tx, purchase, dispute.id))))
            .taken;
    }
    if (existing) {
      await tx.$executeRaw(Prisma.sql`
        UPDATE pack_disputes
           SET status = ${final}, stripe_status = ${dispute.status}, released_tokens = ${released}, removed_tokens = ${removed},
               closed_event_id = ${event.id}, closed_at = ${now}, updated_at = ${now}
         WHERE dispute_id = ${dispute.id}`);
    } else {
      await tx.$executeRaw(Prisma.sql`
        INSERT INTO pack_disputes (dispute_id, checkout_session_id, user_id, status, stripe_status, amount_micro_usd, disputed_tokens,
                                   released_tokens, removed_tokens, closed_event_id, closed_at)
        VALUES (${dispute.id}, ${purchase.checkout_session_id}, ${purchase.user_id}::uuid, ${final}, ${dispute.status}, ${amountMicros}, ${disputed},
                ${released}, ${removed}, ${event.id}, ${now})`);
    }
    return { outcome: final === 'won' ? 'dispute_won_credits_released' : 'dispute_lost_credits_removed' };
  }

  /** What of the pack can still be held or removed: not refunded, not held or removed by another dispute. */
  private async packRoom(tx: Tx, purchase: PurchaseRow, disputeId: string): Promise<bigint> {
    const rows = await tx.$queryRaw<{ taken: bigint }[]>(Prisma.sql`
      SELECT COALESCE(SUM(CASE WHEN status = 'open' THEN held_tokens - refunded_from_hold_tokens WHEN status = 'lost' THEN removed_tokens ELSE 0 END), 0)::bigint AS taken
        FROM pack_disputes WHERE checkout_session_id = ${purchase.checkout_session_id} AND dispute_id <> ${disputeId}`);
    const room = purchase.tokens - purchase.refund_tokens - (rows[0]?.taken ?? 0n);
    return room > 0n ? room : 0n;
  }
}
