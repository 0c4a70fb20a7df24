// Stripe as it really sends: the handler fed real payloads (a live basil
// invoice.payment_succeeded, Stripe's own example objects from stripe/openapi,
// the objects `stripe trigger` creates) and shapes it must refuse. See
// test/fixtures/outside/stripe/README.md for where each payload came from.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMonth, eventObject, stripeId, unixNow } from './stripe-objects.ts';
import { startStripeFake, type StripeFake } from '../../test/fakes/stripe-server.ts';
import { billingSnapshot, deliver, ledger, planOf, signUp } from '../../test/helpers/billing.ts';
import { addCredits, tryTakeCredits } from '../metering/credits.ts';
import { send } from '../../test/helpers/chat.ts';
import { nomamiInvoicePaymentSucceeded, openapiEvent, openapiObject, outsideJson } from '../../test/helpers/outside-stripe.ts';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

// The live payload's price is Pro's price here, so its subscription grants Pro.
const NOMAMI_PRICE = 'price_1SUyGiHOQNg4XnOMHSqLxNl9';
const PRICES = { [NOMAMI_PRICE]: 2_990, price_ent_rp: 9_900, price_100k_rp: 500, price_1m_rp: 4_000 };

let fake: StripeFake;
let server: TestServer;
beforeAll(async () => {
  fake = await startStripeFake({ prices: PRICES });
  server = await startTestServer(
    fake.env({
      STRIPE_PRICE_PRO: NOMAMI_PRICE,
      STRIPE_PRICE_ENTERPRISE: 'price_ent_rp',
      STRIPE_PRICE_PACK_100K: 'price_100k_rp',
      STRIPE_PRICE_PACK_1M: 'price_1m_rp',
    }),
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
function realSubscription(sub: {
  id: string;
  customer: unknown;
  status: string;
  items: { data: { id: string; price: { id: string }; current_period_start: number; current_period_end: number }[] };
  metadata: unknown;
}) {
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
  const created = fake.putSubscription({
    customer: account.customer,
    priceId: 'price_ent_rp',
    status: 'active',
    periodStart: t0,
    periodEnd: addMonth(t0),
    metadata: { user_id: account.userId },
    created: t0,
  });
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
    const stored = await server.deps.prisma.subscription.findUnique({
      where: { id: invoice.parent.subscription_details.subscription },
      select: { userId: true, planId: true, status: true, currentPeriodStart: true, currentPeriodEnd: true },
    });
    expect(stored).toEqual({
      userId,
      planId: 'pro',
      status: 'active',
      currentPeriodStart: new Date(line.period.start * 1000),
      currentPeriodEnd: new Date(line.period.end * 1000),
    });
    const payments = async () => (await b.trpc.billing.status.query()).payments;
    expect(await payments()).toEqual([
      expect.objectContaining({ kind: 'subscription', status: 'paid', amountMicroUsd: 29_900_000, currency: 'brl', description: 'Pro plan (first month)' }),
    ]);

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
    const sub = fake.putSubscription({
      customer,
      priceId: NOMAMI_PRICE,
      status: 'active',
      periodStart: start,
      periodEnd: addMonth(start),
      metadata: { user_id: userId },
      created: start,
    });
    const item = sub.items.data[0]!;
    const invoiceFor = (id: string, reason: string, from: number, to: number) =>
      liveInvoice({ id, customer, subscription: sub.id, itemId: item.id, priceId: NOMAMI_PRICE, start: from, end: to, reason });

    const first = invoiceFor(stripeId('in'), 'subscription_create', start, addMonth(start));
    expect((await deliver(server, fake, asEvent(first, 'invoice.payment_succeeded', start))).body.outcome).toBe('invoice_paid');
    expect(await planOf(server, userId)).toBe('pro');
    await send(b, { content: "use some of this period's allowance" });
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
      [
        'no period on the item',
        (s) => {
          delete s.items.data[0].current_period_start;
          delete s.items.data[0].current_period_end;
        },
      ],
      ['no period end', (s) => delete s.items.data[0].current_period_end],
      ['period start a string', (s) => (s.items.data[0].current_period_start = String(s.items.data[0].current_period_start))],
      [
        'period ending before it starts (fixtures3 placeholder values)',
        (s) => {
          s.items.data[0].current_period_start = 1_896_570_518;
          s.items.data[0].current_period_end = 976_287_773;
        },
      ],
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

    // Stripe's charge object (fixtures3) for the pack's PaymentIntent, refunded.
    const charge = openapiObject('charge');
    Object.assign(charge, { payment_intent: paid.paymentIntent, customer: session.customer, metadata: { pack_id: 'pack_100k' }, refunded: false });
    for (const [amount, refunded] of [
      ['abc', 500],
      [500, 'abc'],
      [500, '500'],
      [null, 500],
      [500, 1.5],
      [-500, 500],
      [500, 700],
      [1e300, 500],
      [{}, 500],
    ] as const) {
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

/** A fresh account that bought these packs (checkout through the fake, completion delivered). */
async function packBuyer(label: string, packs: ('pack_100k' | 'pack_1m')[]) {
  const account = await signUp(server, label);
  const bought: Record<string, { paymentIntent: string; sessionId: string }> = {};
  for (const pack of packs) {
    const { url } = await account.b.trpc.billing.checkout.mutate({ pack });
    const session = [...fake.sessions.values()].find((s) => s.session.url === url)!.session;
    const paid = fake.completeCheckout(session.id);
    expect((await deliver(server, fake, paid.events[0]!)).body.outcome).toBe('pack_granted');
    bought[pack] = { paymentIntent: paid.paymentIntent!, sessionId: session.id };
  }
  return { ...account, bought };
}

/**
 * Stripe's dispute object (fixtures3): an inquiry (`case_type: inquiry`, status
 * `warning_needs_response`), what `stripe trigger charge.dispute.created` produces with
 * its pm_card_createDisputeInquiry PaymentIntent; re-pointed at a pack's PaymentIntent.
 */
function realDispute(p: { paymentIntent: string; amount: number; id?: string; status?: string }) {
  const dispute = openapiObject('dispute');
  Object.assign(dispute, {
    id: p.id ?? stripeId('dp'),
    charge: stripeId('ch'),
    payment_intent: p.paymentIntent,
    amount: p.amount,
    ...(p.status ? { status: p.status } : {}),
  });
  return dispute;
}

const balanceOf = async (userId: string) => (await ledger(server, userId)).balance;

describe("disputes on a credit pack's charge", () => {
  it("the fixtures agree: the trigger pays with the inquiry card, and fixtures3's dispute is that inquiry", () => {
    const trigger = outsideJson('stripe-cli-trigger-charge.dispute.created.json');
    expect(trigger.fixtures[0]).toMatchObject({
      path: '/v1/payment_intents',
      params: { amount: 100, currency: 'usd', payment_method: 'pm_card_createDisputeInquiry', confirm: true },
    });
    expect(openapiObject('dispute')).toMatchObject({
      object: 'dispute',
      status: 'warning_needs_response',
      payment_method_details: { card: { case_type: 'inquiry' } },
    });
  });

  it("created holds the pack's unspent tokens (at most the pack's), won gives them back; each exactly once", async () => {
    const { b, userId, bought } = await packBuyer('dispute-won', ['pack_100k', 'pack_1m']);
    expect(await balanceOf(userId)).toBe(1_100_000n);
    const dispute = realDispute({ paymentIntent: bought.pack_100k!.paymentIntent, amount: 500 });
    const created = openapiEvent('charge.dispute.created', dispute);
    expect(await deliver(server, fake, created)).toMatchObject({ status: 200, body: { outcome: 'dispute_credits_held' } });
    // Only the disputed pack's 100k are held; the 1M pack stays spendable.
    expect(await balanceOf(userId)).toBe(1_000_000n);
    expect((await b.trpc.billing.status.query()).credits).toEqual({ tokens: 1_000_000, heldTokens: 100_000 });
    expect((await b.trpc.usage.summary.query()).credits.tokens).toBe(1_000_000);
    expect((await ledger(server, userId)).entries.at(-1)).toMatchObject({
      kind: 'dispute_hold',
      deltaTokens: -100_000n,
      balanceAfter: 1_000_000n,
      sourceEventId: created.id,
    });

    // The same event again, and the same dispute under another event id: nothing more is held.
    expect((await deliver(server, fake, created)).body.outcome).toBe('duplicate');
    expect((await deliver(server, fake, openapiEvent('charge.dispute.created', dispute))).body.outcome).toBe('dispute_no_change');
    expect(await balanceOf(userId)).toBe(1_000_000n);

    const won = openapiEvent('charge.dispute.closed', { ...dispute, status: 'won' });
    expect(await deliver(server, fake, won)).toMatchObject({ status: 200, body: { outcome: 'dispute_won_credits_released' } });
    expect(await balanceOf(userId)).toBe(1_100_000n);
    expect((await b.trpc.billing.status.query()).credits).toEqual({ tokens: 1_100_000, heldTokens: 0 });
    for (const again of [won, openapiEvent('charge.dispute.closed', { ...dispute, status: 'won' }), openapiEvent('charge.dispute.created', dispute)]) {
      expect(['duplicate', 'dispute_already_closed']).toContain((await deliver(server, fake, again)).body.outcome);
    }
    const book = await ledger(server, userId);
    expect(book.balance).toBe(1_100_000n);
    expect(book.sum).toBe(book.balance);
    expect(book.entries.filter((e) => e.kind.startsWith('dispute_')).map((e) => [e.kind, e.deltaTokens])).toEqual([
      ['dispute_hold', -100_000n],
      ['dispute_release', 100_000n],
    ]);
  });

  it('a partly spent pack: only what is left is held, and a lost dispute removes exactly that', async () => {
    const { b, userId, bought } = await packBuyer('dispute-lost', ['pack_100k']);
    await server.deps.prisma.$transaction((tx) => tryTakeCredits(tx, { userId, kind: 'spend', reason: 'test spend' }, 70_000n));
    const dispute = realDispute({ paymentIntent: bought.pack_100k!.paymentIntent, amount: 500, status: 'needs_response' });
    expect((await deliver(server, fake, openapiEvent('charge.dispute.created', dispute))).body.outcome).toBe('dispute_credits_held');
    expect(await balanceOf(userId)).toBe(0n);
    expect((await b.trpc.billing.status.query()).credits).toEqual({ tokens: 0, heldTokens: 30_000 });

    const lost = openapiEvent('charge.dispute.closed', { ...dispute, status: 'lost' });
    expect((await deliver(server, fake, lost)).body.outcome).toBe('dispute_lost_credits_removed');
    expect(await balanceOf(userId)).toBe(0n);
    const row = await server.deps.prisma.packDispute.findUnique({
      where: { disputeId: dispute.id },
      select: { status: true, stripeStatus: true, disputedTokens: true, heldTokens: true, removedTokens: true, releasedTokens: true },
    });
    expect(row).toEqual({ status: 'lost', stripeStatus: 'lost', disputedTokens: 100_000n, heldTokens: 30_000n, removedTokens: 30_000n, releasedTokens: 0n });

    // Credits bought afterwards are not touched by the lost dispute, however often it is told again.
    await server.deps.prisma.$transaction((tx) => addCredits(tx, { userId, kind: 'grant', reason: 'test grant' }, 5_000n));
    expect((await deliver(server, fake, openapiEvent('charge.dispute.closed', { ...dispute, status: 'lost' }))).body.outcome).toBe('dispute_already_closed');
    expect(await balanceOf(userId)).toBe(5_000n);
    const book = await ledger(server, userId);
    expect(book.sum).toBe(book.balance);
    expect((await b.trpc.billing.status.query()).credits).toEqual({ tokens: 5_000, heldTokens: 0 });
  });

  it('the closing event first: lost removes the unspent tokens then, won holds nothing; the late created event changes nothing', async () => {
    const { userId, bought } = await packBuyer('dispute-order', ['pack_100k', 'pack_1m']);
    // A dispute for part of the 1M pack's charge (10 of 40 USD) stands for a quarter of it.
    const partial = realDispute({ paymentIntent: bought.pack_1m!.paymentIntent, amount: 1_000 });
    expect((await deliver(server, fake, openapiEvent('charge.dispute.closed', { ...partial, status: 'lost' }))).body.outcome).toBe(
      'dispute_lost_credits_removed',
    );
    expect(await balanceOf(userId)).toBe(1_100_000n - 250_000n);
    expect((await deliver(server, fake, openapiEvent('charge.dispute.created', partial))).body.outcome).toBe('dispute_already_closed');
    expect(await balanceOf(userId)).toBe(850_000n);

    const inquiry = realDispute({ paymentIntent: bought.pack_100k!.paymentIntent, amount: 500 });
    expect((await deliver(server, fake, openapiEvent('charge.dispute.closed', { ...inquiry, status: 'warning_closed' }))).body.outcome).toBe(
      'dispute_won_credits_released',
    );
    expect((await deliver(server, fake, openapiEvent('charge.dispute.created', inquiry))).body.outcome).toBe('dispute_already_closed');
    expect(await balanceOf(userId)).toBe(850_000n);
    const book = await ledger(server, userId);
    expect(book.sum).toBe(book.balance);
    expect(book.entries.filter((e) => e.kind.startsWith('dispute_')).map((e) => [e.kind, e.deltaTokens])).toEqual([['dispute_loss', -250_000n]]);
  });

  it('a refund during an open inquiry claims the held tokens first; winning gives back only the rest', async () => {
    const { userId, bought } = await packBuyer('dispute-refund', ['pack_1m', 'pack_100k']);
    const { paymentIntent, sessionId } = bought.pack_1m!;
    const dispute = realDispute({ paymentIntent, amount: 4_000 });
    expect((await deliver(server, fake, openapiEvent('charge.dispute.created', dispute))).body.outcome).toBe('dispute_credits_held');
    expect(await balanceOf(userId)).toBe(100_000n);
    // Half the charge refunded while the inquiry is open: 500k due back, all of it from the hold.
    const charge = openapiObject('charge');
    Object.assign(charge, { payment_intent: paymentIntent, amount: 4_000, amount_refunded: 2_000, refunded: false, metadata: { pack_id: 'pack_1m' } });
    expect((await deliver(server, fake, openapiEvent('charge.refunded', charge))).body.outcome).toBe('pack_refunded');
    expect(await balanceOf(userId)).toBe(100_000n);
    expect(
      await server.deps.prisma.packPurchase.findUnique({ where: { checkoutSessionId: sessionId }, select: { refundTokens: true, clawedBackTokens: true } }),
    ).toEqual({ refundTokens: 500_000n, clawedBackTokens: 500_000n });

    expect((await deliver(server, fake, openapiEvent('charge.dispute.closed', { ...dispute, status: 'won' }))).body.outcome).toBe(
      'dispute_won_credits_released',
    );
    // The 100k pack and the unrefunded half of the 1M pack.
    expect(await balanceOf(userId)).toBe(600_000n);
    const book = await ledger(server, userId);
    expect(book.sum).toBe(book.balance);
  });

  it('concurrent deliveries hold once; a dispute on another charge is ignored; closed with an open status is rejected', async () => {
    const { userId, bought } = await packBuyer('dispute-burst', ['pack_100k']);
    const dispute = realDispute({ paymentIntent: bought.pack_100k!.paymentIntent, amount: 500 });
    const results = await Promise.all(Array.from({ length: 6 }, () => deliver(server, fake, openapiEvent('charge.dispute.created', dispute))));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(results.map((r) => r.body.outcome).sort()).toEqual(['dispute_credits_held', ...Array(5).fill('dispute_no_change')]);
    expect(await balanceOf(userId)).toBe(0n);
    expect((await ledger(server, userId)).entries.filter((e) => e.kind === 'dispute_hold')).toHaveLength(1);

    const before = await billingSnapshot(server);
    // fixtures3's dispute as it is: no PaymentIntent, a charge that is no pack's.
    expect((await deliver(server, fake, openapiEvent('charge.dispute.created', openapiObject('dispute')))).body.outcome).toBe('ignored');
    expect(
      (await deliver(server, fake, openapiEvent('charge.dispute.created', realDispute({ paymentIntent: 'pi_not_a_pack_123', amount: 100 })))).body.outcome,
    ).toBe('ignored');
    expect(await deliver(server, fake, openapiEvent('charge.dispute.closed', { ...dispute, status: 'under_review' }))).toMatchObject({
      status: 200,
      body: { outcome: 'rejected' },
    });
    for (const broken of [{ amount: 'abc' }, { amount: null }, { id: 42 }, { status: null }, { payment_intent: 17 }, { object: 'charge' }]) {
      const result = await deliver(server, fake, openapiEvent('charge.dispute.closed', { ...dispute, status: 'lost', ...broken }));
      expect(result, JSON.stringify(broken)).toMatchObject({ status: 200, body: { outcome: 'rejected' } });
    }
    expect(await billingSnapshot(server)).toEqual(before);
  });
});
