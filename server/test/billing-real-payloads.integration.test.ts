// Stripe as it really sends: the handler fed real payloads (a live basil
// invoice.payment_succeeded, Stripe's own example objects from stripe/openapi,
// the objects `stripe trigger` creates) and shapes it must refuse. See
// test/fixtures/outside/stripe/README.md for where each payload came from.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMonth, eventObject, stripeId, unixNow } from '../src/billing/stripe-objects.ts';
import { startStripeFake, type StripeFake } from './fakes/stripe-server.ts';
import { billingSnapshot, deliver, ledger, planOf, signUp } from './helpers/billing.ts';
import { send } from './helpers/chat.ts';
import { nomamiInvoicePaymentSucceeded, openapiEvent, openapiObject, outsideJson } from './helpers/outside-stripe.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

// The live payload's price is Pro's price here, so its subscription grants Pro.
const NOMAMI_PRICE = 'price_1SUyGiHOQNg4XnOMHSqLxNl9';
const PRICES = { [NOMAMI_PRICE]: 2_990, price_ent_rp: 9_900, price_100k_rp: 500, price_1m_rp: 4_000 };

let fake: StripeFake;
let server: TestServer;
beforeAll(async () => {
  fake = await startStripeFake({ prices: PRICES });
  server = await startTestServer(
    fake.env({ STRIPE_PRICE_PRO: NOMAMI_PRICE, STRIPE_PRICE_ENTERPRISE: 'price_ent_rp', STRIPE_PRICE_PACK_100K: 'price_100k_rp', STRIPE_PRICE_PACK_1M: 'price_1m_rp' }),
  );
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** An account whose Stripe customer exists (a first checkout creates it). */
async function accountWithCustomer(label: string) {
  const account = await signUp(server, label);
  await account.b.trpc.billing.checkout.mutate({ pack: 'pack_100k' });
  const row = await server.deps.prisma.billingCustomer.findUnique({ where: { userId: account.userId }, select: { stripeCustomerId: true } });
  return { ...account, customer: row!.stripeCustomerId };
}

/**
 * Stripe's own subscription object (fixtures3) made to describe one of the fake's
 * subscriptions: its ids, customer, price, status and (placeholder-free) period.
 */
function realSubscription(sub: { id: string; customer: unknown; status: string; items: { data: { id: string; price: { id: string }; current_period_start: number; current_period_end: number }[] }; metadata: unknown }) {
  const real = openapiObject('subscription');
  const item = sub.items.data[0]!;
  real.id = sub.id;
  real.customer = sub.customer;
  real.status = sub.status;
  real.metadata = sub.metadata;
  real.cancel_at = null;
  real.canceled_at = null;
  real.ended_at = null;
  real.cancel_at_period_end = false;
  const realItem = real.items.data[0];
  realItem.id = item.id;
  realItem.subscription = sub.id;
  realItem.price.id = item.price.id;
  realItem.current_period_start = item.current_period_start;
  realItem.current_period_end = item.current_period_end;
  return real;
}

/** An Enterprise subscription that was cancelled: the state a forged "active" update must not undo. */
async function cancelledEnterprise(label: string) {
  const account = await accountWithCustomer(label);
  const t0 = unixNow() - 3_600;
  const created = fake.putSubscription({ customer: account.customer, priceId: 'price_ent_rp', status: 'active', periodStart: t0, periodEnd: addMonth(t0), metadata: { user_id: account.userId }, created: t0 });
  expect((await deliver(server, fake, eventObject('customer.subscription.created', created, { created: t0 }))).body.outcome).toBe('subscription_active');
  const ended = fake.updateSubscription(created.id, { status: 'canceled', canceledAt: t0 + 60, endedAt: t0 + 60 });
  expect((await deliver(server, fake, eventObject('customer.subscription.deleted', ended, { created: t0 + 60 }))).body.outcome).toBe('subscription_canceled');
  expect(await planOf(server, account.userId)).toBe('free');
  return { ...account, t0, sub: ended };
}

/** The live basil event (unchanged envelope) under another event id, type and time. */
function asEvent<T extends { id: string; type: string; created: number }>(event: T, type: string, created = unixNow()): T {
  return { ...event, id: stripeId('evt'), type, created };
}

/** The live basil invoice, re-pointed at one of the fake's subscriptions and a given period. */
function liveInvoice(p: { id: string; customer: string; subscription: string; itemId: string; priceId: string; start: number; end: number; reason: string }) {
  const event = nomamiInvoicePaymentSucceeded();
  const invoice = event.data.object;
  Object.assign(invoice, { id: p.id, customer: p.customer, billing_reason: p.reason });
  invoice.parent.subscription_details.subscription = p.subscription;
  invoice.lines.url = `/v1/invoices/${p.id}/lines`;
  const line = invoice.lines.data[0];
  line.invoice = p.id;
  line.parent.subscription_item_details.subscription = p.subscription;
  line.parent.subscription_item_details.subscription_item = p.itemId;
  line.pricing.price_details.price = p.priceId;
  line.period = { start: p.start, end: p.end };
  return event;
}

describe('invoice.payment_succeeded counts like invoice.paid, and an invoice counts once', () => {
  it('the live basil invoice.payment_succeeded records the payment and the plan; invoice.paid for the same invoice adds nothing', async () => {
    // `stripe trigger invoice.paid` pays one invoice, and its fixture names the other event that payment sends.
    const trigger = outsideJson('stripe-cli-trigger-invoice.paid.json');
    expect(['invoice.paid', ...trigger._meta.aliases]).toEqual(['invoice.paid', 'invoice.payment_succeeded']);

    const live = nomamiInvoicePaymentSucceeded();
    const invoice = live.data.object;
    const line = invoice.lines.data[0];
    const { b, userId } = await signUp(server, 'nomami');
    // The live payload's customer and subscription belong to this account, as its checkout would have made them.
    await server.deps.prisma.billingCustomer.create({ data: { userId, stripeCustomerId: invoice.customer }, select: { userId: true } });
    fake.putSubscription({
      id: invoice.parent.subscription_details.subscription,
      customer: invoice.customer,
      priceId: line.pricing.price_details.price,
      itemId: line.parent.subscription_item_details.subscription_item,
      status: 'active',
      periodStart: line.period.start,
      periodEnd: line.period.end,
      created: invoice.created,
    });

    // The live event exactly as it was logged, only signed afresh.
    expect(await deliver(server, fake, live)).toMatchObject({ status: 200, body: { received: true, outcome: 'invoice_paid' } });
    expect(await planOf(server, userId)).toBe('pro');
    const stored = await server.deps.prisma.subscription.findUnique({ where: { id: invoice.parent.subscription_details.subscription }, select: { userId: true, planId: true, status: true, currentPeriodStart: true, currentPeriodEnd: true } });
    expect(stored).toEqual({ userId, planId: 'pro', status: 'active', currentPeriodStart: new Date(line.period.start * 1000), currentPeriodEnd: new Date(line.period.end * 1000) });
    const payments = async () => (await b.trpc.billing.status.query()).payments;
    expect(await payments()).toEqual([expect.objectContaining({ kind: 'subscription', status: 'paid', amountMicroUsd: 29_900_000, currency: 'brl', description: 'Pro plan (first month)' })]);

    // Stripe also sends invoice.paid for the same invoice, with its own event id.
    const paid = asEvent(live, 'invoice.paid', live.created + 1);
    expect(await deliver(server, fake, paid)).toMatchObject({ status: 200, body: { outcome: 'invoice_already_paid' } });
    expect(await payments()).toHaveLength(1);
    for (const event of [live, paid]) expect((await deliver(server, fake, event)).body.outcome).toBe('duplicate');
    expect(await server.deps.prisma.payment.count({ where: { stripeObjectId: invoice.id } })).toBe(1);
  });

  it('an endpoint subscribed only to invoice.payment_succeeded records renewals; both events at once still count one payment', async () => {
    const { b, userId, customer } = await accountWithCustomer('succeeded-only');
    const start = unixNow() - 3_600;
    const sub = fake.putSubscription({ customer, priceId: NOMAMI_PRICE, status: 'active', periodStart: start, periodEnd: addMonth(start), metadata: { user_id: userId }, created: start });
    const item = sub.items.data[0]!;
    const invoiceFor = (id: string, reason: string, from: number, to: number) =>
      liveInvoice({ id, customer, subscription: sub.id, itemId: item.id, priceId: NOMAMI_PRICE, start: from, end: to, reason });

    const first = invoiceFor(stripeId('in'), 'subscription_create', start, addMonth(start));
    expect((await deliver(server, fake, asEvent(first, 'invoice.payment_succeeded', start))).body.outcome).toBe('invoice_paid');
    expect(await planOf(server, userId)).toBe('pro');
    await send(b, { content: 'use some of this period\'s allowance' });
    expect((await b.trpc.usage.summary.query()).used.tokensThisMonth).toBeGreaterThan(0);

    // The renewal: Stripe moved the subscription to its next period and paid the cycle invoice.
    const nextStart = unixNow() - 60;
    fake.updateSubscription(sub.id, { periodStart: nextStart, periodEnd: addMonth(nextStart) });
    const renewal = invoiceFor(stripeId('in'), 'subscription_cycle', nextStart, addMonth(nextStart));
    expect((await deliver(server, fake, asEvent(renewal, 'invoice.payment_succeeded', unixNow() + 10))).body.outcome).toBe('invoice_paid');
    const summary = await b.trpc.usage.summary.query();
    expect(summary.period.start.getTime()).toBe(nextStart * 1000);
    expect(summary.used.tokensThisMonth).toBe(0);
    expect((await b.trpc.billing.status.query()).payments.map((p) => p.description)).toEqual(['Pro plan (renewal)', 'Pro plan (first month)']);

    // Both events for one more invoice, delivered at once (and each twice): one payment.
    const third = invoiceFor(stripeId('in'), 'subscription_cycle', nextStart, addMonth(nextStart));
    const events = [asEvent(third, 'invoice.paid', unixNow() + 20), asEvent(third, 'invoice.payment_succeeded', unixNow() + 20)];
    const results = await Promise.all([...events, ...events].map((event) => deliver(server, fake, event)));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(results.map((r) => r.body.outcome).sort()).toEqual(['duplicate', 'duplicate', 'invoice_already_paid', 'invoice_paid']);
    expect(await server.deps.prisma.payment.count({ where: { userId } })).toBe(3);
  });
});

describe('a subscription that cannot be read completely is rejected, and nothing is written', () => {
  it('customer.subscription.updated with items: null does not overwrite a cancelled Enterprise subscription', async () => {
    const { userId, t0, sub } = await cancelledEnterprise('items-null');
    const stored = await server.deps.prisma.subscription.findUnique({ where: { id: sub.id } });
    expect(stored).toMatchObject({ status: 'canceled', planId: 'enterprise', currentPeriodStart: expect.any(Date), currentPeriodEnd: expect.any(Date) });
    const before = await billingSnapshot(server);

    const forged = { ...realSubscription(sub), status: 'active', items: null };
    const event = openapiEvent('customer.subscription.updated', forged, { created: t0 + 120 });
    expect(await deliver(server, fake, event)).toMatchObject({ status: 200, body: { received: true, outcome: 'rejected' } });
    expect(await billingSnapshot(server)).toEqual(before);
    expect(await server.deps.prisma.subscription.findUnique({ where: { id: sub.id } })).toEqual(stored);
    expect(await planOf(server, userId)).toBe('free');
    const row = await server.deps.prisma.stripeEvent.findUnique({ where: { id: event.id }, select: { outcome: true, processedAt: true, error: true } });
    expect(row).toMatchObject({ outcome: 'rejected', processedAt: expect.any(Date), error: expect.stringMatching(/items/) });
    // Stripe's redelivery of the same event changes nothing either.
    expect(await deliver(server, fake, event)).toMatchObject({ status: 200, body: { outcome: 'duplicate' } });
  });

  it('no status, no customer, no period, no price, an empty item list, wrong types: each rejected, nothing written', async () => {
    const { t0, sub } = await cancelledEnterprise('incomplete');
    const complete = () => ({ ...realSubscription(sub), status: 'active' });
    const cases: [string, (s: Record<string, any>) => void][] = [
      ['no status', (s) => delete s.status],
      ['status null', (s) => (s.status = null)],
      ['status a number', (s) => (s.status = 1)],
      ['no customer', (s) => delete s.customer],
      ['customer null', (s) => (s.customer = null)],
      ['customer an object without id', (s) => (s.customer = { object: 'customer' })],
      ['no period on the item', (s) => { delete s.items.data[0].current_period_start; delete s.items.data[0].current_period_end; }],
      ['no period end', (s) => delete s.items.data[0].current_period_end],
      ['period start a string', (s) => (s.items.data[0].current_period_start = String(s.items.data[0].current_period_start))],
      ['period ending before it starts (fixtures3 placeholder values)', (s) => { s.items.data[0].current_period_start = 1_896_570_518; s.items.data[0].current_period_end = 976_287_773; }],
      ['no items', (s) => delete s.items],
      ['items.data empty', (s) => (s.items.data = [])],
      ['items.data not a list', (s) => (s.items.data = { 0: s.items.data[0] })],
      ['item without price', (s) => delete s.items.data[0].price],
      ['price id null', (s) => (s.items.data[0].price.id = null)],
      ['no id', (s) => delete s.id],
      ['an invoice instead of a subscription', (s) => (s.object = 'invoice')],
    ];
    const before = await billingSnapshot(server);
    let created = t0 + 200;
    for (const [label, breakIt] of cases) {
      const object = complete();
      breakIt(object);
      const result = await deliver(server, fake, openapiEvent('customer.subscription.updated', object, { created: created++ }));
      expect(result, label).toMatchObject({ status: 200, body: { outcome: 'rejected' } });
    }
    expect(await billingSnapshot(server)).toEqual(before);

    // The same real shape, complete, does apply (the cases above fail for what they lack).
    const ok = await deliver(server, fake, openapiEvent('customer.subscription.updated', complete(), { created: created++ }));
    expect(ok).toMatchObject({ status: 200, body: { outcome: 'subscription_active' } });
  });
});

describe('signed payloads that can never apply are 200 rejected, never 500', () => {
  it('charge.refunded with a non-numeric amount (NaN to BigInt) is rejected and the pack stays granted', async () => {
    const account = await signUp(server, 'nan-refund');
    const { url } = await account.b.trpc.billing.checkout.mutate({ pack: 'pack_100k' });
    const session = [...fake.sessions.values()].find((s) => s.session.url === url)!.session;
    const paid = fake.completeCheckout(session.id);
    expect((await deliver(server, fake, paid.events[0]!)).body.outcome).toBe('pack_granted');
    const before = await billingSnapshot(server);

    // Stripe's charge object (fixtures3) for the pack's PaymentIntent, as `stripe trigger charge.refunded` would refund it.
    const charge = openapiObject('charge');
    Object.assign(charge, { payment_intent: paid.paymentIntent, customer: session.customer, metadata: { pack_id: 'pack_100k' }, refunded: false });
    for (const [amount, refunded] of [['abc', 500], [500, 'abc'], [500, '500'], [null, 500], [500, 1.5], [-500, 500], [500, 700], [1e300, 500], [{}, 500]] as const) {
      const result = await deliver(server, fake, openapiEvent('charge.refunded', { ...charge, amount, amount_refunded: refunded }));
      expect(result, `amount ${JSON.stringify(amount)}, refunded ${JSON.stringify(refunded)}`).toMatchObject({ status: 200, body: { outcome: 'rejected' } });
    }
    expect(await billingSnapshot(server)).toEqual(before);
    expect((await ledger(server, account.userId)).balance).toBe(100_000n);
  });

  it('an event whose data.object is missing or not an object is rejected and recorded', async () => {
    for (const type of ['checkout.session.completed', 'invoice.paid', 'charge.refunded', 'customer.subscription.updated']) {
      for (const data of [{}, { object: null }, { object: 'sub_123' }, { object: [] }]) {
        const event = { ...openapiEvent(type, {}), data } as never;
        const result = await deliver(server, fake, event);
        expect(result, `${type} ${JSON.stringify(data)}`).toMatchObject({ status: 200, body: { outcome: 'rejected' } });
      }
    }
  });

  it('text Postgres cannot store (NUL, lone surrogates) in a signed payload is acknowledged, not a 500', async () => {
    const before = await billingSnapshot(server);
    const charge = { ...openapiObject('charge'), description: 'nul \u0000 and a lone \ud800 surrogate', payment_intent: 'pi_\u0000x' };
    const result = await deliver(server, fake, openapiEvent('charge.refunded', charge));
    expect(result).toMatchObject({ status: 200, body: { outcome: 'rejected' } });
    const weird = await deliver(server, fake, openapiEvent('some.future_event', { id: 'x\u0000', object: 'thing', note: '\udfff' }));
    expect(weird).toMatchObject({ status: 200, body: { outcome: 'ignored' } });
    expect(await billingSnapshot(server)).toEqual(before);
  });
});
