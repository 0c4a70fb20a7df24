// POST /webhooks/stripe: signatures, idempotency (replays and concurrent
// duplicates), credit packs and refunds through the ledger, events out of order,
// failures that Stripe's redelivery must fix exactly once.
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tryTakeCredits } from '../metering/credits.ts';
import { eventObject, unixNow } from './stripe-objects.ts';
import { startStripeFake, type StripeFake } from '../../test/fakes/stripe-server.ts';
import { deliver, ledger, planOf, signUp } from '../../test/helpers/billing.ts';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

const PRICES = { price_pro_wh: 1_500, price_ent_wh: 9_900, price_100k_wh: 500, price_1m_wh: 4_000 };

let fake: StripeFake;
let server: TestServer;
beforeAll(async () => {
  fake = await startStripeFake({ prices: PRICES });
  server = await startTestServer(
    fake.env({
      STRIPE_PRICE_PRO: 'price_pro_wh',
      STRIPE_PRICE_ENTERPRISE: 'price_ent_wh',
      STRIPE_PRICE_PACK_100K: 'price_100k_wh',
      STRIPE_PRICE_PACK_1M: 'price_1m_wh',
    }),
  );
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

async function tableCounts() {
  const p = server.deps.prisma;
  return {
    events: await p.stripeEvent.count(),
    subscriptions: await p.subscription.count(),
    payments: await p.payment.count(),
    packs: await p.packPurchase.count(),
    ledger: await p.creditLedgerEntry.count(),
  };
}

/** A paid pack checkout's completion event, for a fresh account. */
async function packPurchase(packId: 'pack_100k' | 'pack_1m') {
  const account = await signUp(server, 'packs');
  const { url } = await account.b.trpc.billing.checkout.mutate({ pack: packId });
  const session = [...fake.sessions.values()].find((s) => s.session.url === url)!.session;
  const paid = fake.completeCheckout(session.id);
  return { ...account, event: paid.events[0]!, paymentIntent: paid.paymentIntent!, customer: String(session.customer), sessionId: session.id };
}

describe('signature checks', () => {
  it('bad signature, stale timestamp, missing header, wrong secret, tampered body -> 400 and nothing written', async () => {
    const { event } = await packPurchase('pack_100k');
    const before = await tableCounts();
    const now = unixNow();
    const signed = fake.sign(event);
    const cases = [
      await deliver(server, fake, event, { signature: null }),
      await deliver(server, fake, event, { signature: 't=123,v1=deadbeef' }),
      await deliver(server, fake, event, { signature: 'garbage' }),
      await deliver(server, fake, event, { timestamp: now - 301 }),
      await deliver(server, fake, event, { secret: 'whsec_somebody_else' }),
      await deliver(server, fake, event, { signature: signed.signature, body: signed.body.replace('"pack_100k"', '"pack_1m"') }),
    ];
    for (const result of cases) {
      expect(result.status).toBe(400);
      expect(result.body).toMatchObject({ error: { reason: 'invalid_input' } });
    }
    // A correctly signed body that is not an event is refused the same way.
    const notEvent = fake.sign({ hello: 'world' } as never);
    const response = await fetch(`${server.url}/webhooks/stripe`, { method: 'POST', headers: { 'stripe-signature': notEvent.signature }, body: notEvent.body });
    expect(response.status).toBe(400);
    const notJson = Stripe.webhooks.generateTestHeaderString({ payload: 'not json', secret: fake.options.webhookSecret });
    expect((await fetch(`${server.url}/webhooks/stripe`, { method: 'POST', headers: { 'stripe-signature': notJson }, body: 'not json' })).status).toBe(400);
    expect(await tableCounts()).toEqual(before);

    // Inside the 300 s tolerance it is accepted.
    expect((await deliver(server, fake, event, { timestamp: now - 290 })).status).toBe(200);
  });

  it('GET on the webhook route is not found, and a huge body is refused without a 500', async () => {
    expect((await fetch(`${server.url}/webhooks/stripe`)).status).toBe(404);
    const big = 'x'.repeat(2 * 1024 * 1024);
    const response = await fetch(`${server.url}/webhooks/stripe`, { method: 'POST', headers: { 'stripe-signature': 't=1,v1=00' }, body: big });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
  });
});

describe('credit packs', () => {
  it("a pack purchase adds exactly the pack's tokens, once, through the ledger", async () => {
    const { b, userId, event, sessionId } = await packPurchase('pack_100k');
    const first = await deliver(server, fake, event);
    expect(first).toMatchObject({ status: 200, body: { received: true, outcome: 'pack_granted' } });
    const status = await b.trpc.billing.status.query();
    expect(status.credits.tokens).toBe(100_000);
    expect(status.payments).toEqual([
      expect.objectContaining({ kind: 'pack', status: 'paid', amountMicroUsd: 5_000_000, description: 'Credit pack: 100k tokens' }),
    ]);
    expect((await b.trpc.usage.summary.query()).credits.tokens).toBe(100_000);
    const book = await ledger(server, userId);
    expect(book.entries).toEqual([
      {
        deltaTokens: 100_000n,
        balanceAfter: 100_000n,
        kind: 'purchase',
        reason: 'credit pack pack_100k (100k tokens)',
        sourceEventId: event.id,
        actorId: null,
      },
    ]);
    expect(book.sum).toBe(book.balance);

    // The same event delivered 10 more times: one grant.
    for (let i = 0; i < 10; i++) {
      expect(await deliver(server, fake, event)).toMatchObject({ status: 200, body: { outcome: 'duplicate' } });
    }
    // Another event about the same session (async payment succeeded) grants nothing either.
    const again = eventObject('checkout.session.async_payment_succeeded', event.data.object as never);
    expect(await deliver(server, fake, again)).toMatchObject({ status: 200, body: { outcome: 'pack_already_granted' } });
    expect((await ledger(server, userId)).balance).toBe(100_000n);
    const stored = await server.deps.prisma.packPurchase.findUnique({ where: { checkoutSessionId: sessionId }, select: { tokens: true, sourceEventId: true } });
    expect(stored).toEqual({ tokens: 100_000n, sourceEventId: event.id });
  });

  it('the same event delivered 10 times concurrently adds the tokens once', async () => {
    const { userId, event } = await packPurchase('pack_1m');
    const results = await Promise.all(Array.from({ length: 10 }, () => deliver(server, fake, event)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(results.filter((r) => r.body.outcome === 'pack_granted')).toHaveLength(1);
    expect(results.filter((r) => r.body.outcome === 'duplicate')).toHaveLength(9);
    const book = await ledger(server, userId);
    expect(book.balance).toBe(1_000_000n);
    expect(book.entries.filter((e) => e.kind === 'purchase')).toHaveLength(1);
    expect(await server.deps.prisma.stripeEvent.findUnique({ where: { id: event.id }, select: { outcome: true, processedAt: true } })).toEqual({
      outcome: 'pack_granted',
      processedAt: expect.any(Date),
    });
  });

  it('a refund claws the tokens back; tokens already spent stay spent and the balance stops at zero', async () => {
    const { b, userId, event, paymentIntent, customer, sessionId } = await packPurchase('pack_100k');
    await deliver(server, fake, event);
    // The user spends 70k of the 100k.
    await server.deps.prisma.$transaction((tx) => tryTakeCredits(tx, { userId, kind: 'spend', reason: 'test spend' }, 70_000n));

    const refund = fake.refundEvent({ paymentIntent, customer, amount: 500, amountRefunded: 500, packId: 'pack_100k' });
    expect(await deliver(server, fake, refund)).toMatchObject({ status: 200, body: { outcome: 'pack_refunded_partly_spent' } });
    const book = await ledger(server, userId);
    expect(book.balance).toBe(0n);
    expect(book.sum).toBe(0n);
    expect(book.entries.at(-1)).toMatchObject({ kind: 'refund', deltaTokens: -30_000n, balanceAfter: 0n, sourceEventId: refund.id });
    const purchase = await server.deps.prisma.packPurchase.findUnique({
      where: { checkoutSessionId: sessionId },
      select: { refundTokens: true, clawedBackTokens: true, refundedMicroUsd: true },
    });
    // 100k due back, 30k could be taken: the 70k difference is what was already spent.
    expect(purchase).toEqual({ refundTokens: 100_000n, clawedBackTokens: 30_000n, refundedMicroUsd: 5_000_000n });
    expect((await b.trpc.billing.status.query()).payments[0]).toMatchObject({ kind: 'pack', status: 'refunded', refundedMicroUsd: 5_000_000 });

    // Replayed: nothing more.
    expect(await deliver(server, fake, refund)).toMatchObject({ status: 200, body: { outcome: 'duplicate' } });
    expect((await ledger(server, userId)).entries.filter((e) => e.kind === 'refund')).toHaveLength(1);
  });

  it('partial refunds claw back pro rata; an older refund state arriving late changes nothing', async () => {
    const { userId, event, paymentIntent, customer } = await packPurchase('pack_1m');
    await deliver(server, fake, event);
    const half = fake.refundEvent({ paymentIntent, customer, amount: 4_000, amountRefunded: 2_000, packId: 'pack_1m' });
    const quarter = fake.refundEvent({ paymentIntent, customer, amount: 4_000, amountRefunded: 1_000, packId: 'pack_1m' });
    const full = fake.refundEvent({ paymentIntent, customer, amount: 4_000, amountRefunded: 4_000, packId: 'pack_1m' });
    expect((await deliver(server, fake, half)).body.outcome).toBe('pack_refunded');
    expect((await ledger(server, userId)).balance).toBe(500_000n);
    expect((await deliver(server, fake, quarter)).body.outcome).toBe('refund_no_change');
    expect((await ledger(server, userId)).balance).toBe(500_000n);
    expect((await deliver(server, fake, full)).body.outcome).toBe('pack_refunded');
    const book = await ledger(server, userId);
    expect(book.balance).toBe(0n);
    expect(book.entries.filter((e) => e.kind === 'refund').map((e) => e.deltaTokens)).toEqual([-500_000n, -500_000n]);
  });

  it('a refund that arrives before its purchase is deferred (non-2xx) and applies once the purchase is in', async () => {
    const { userId, event, paymentIntent, customer } = await packPurchase('pack_100k');
    const refund = fake.refundEvent({ paymentIntent, customer, amount: 500, amountRefunded: 500, packId: 'pack_100k' });
    const early = await deliver(server, fake, refund);
    expect(early.status).toBe(409);
    expect(await server.deps.prisma.stripeEvent.findUnique({ where: { id: refund.id }, select: { processedAt: true, attempts: true } })).toEqual({
      processedAt: null,
      attempts: 1,
    });
    await deliver(server, fake, event);
    expect((await deliver(server, fake, refund)).body.outcome).toBe('pack_refunded');
    expect((await ledger(server, userId)).balance).toBe(0n);
    // A refund of a charge that is not a pack (e.g. a subscription invoice) is acknowledged and ignored.
    const other = fake.refundEvent({ paymentIntent: 'pi_not_ours_123', customer, amount: 1_500, amountRefunded: 1_500 });
    expect(await deliver(server, fake, other)).toMatchObject({ status: 200, body: { outcome: 'ignored' } });
  });
});

describe('ordering, failures, unknown events', () => {
  it("subscription events delivered in reverse order end in Stripe's current state", async () => {
    const { b, userId } = await signUp(server, 'order');
    await b.trpc.billing.checkout.mutate({ pack: 'pack_100k' }); // creates the Stripe customer
    const customer = (await server.deps.prisma.billingCustomer.findUnique({ where: { userId }, select: { stripeCustomerId: true } }))!.stripeCustomerId;
    const t0 = unixNow() - 600;
    const created = fake.putSubscription({
      customer,
      priceId: 'price_pro_wh',
      status: 'active',
      periodStart: t0,
      periodEnd: t0 + 30 * 86_400,
      metadata: { user_id: userId },
      created: t0,
    });
    const e1 = eventObject('customer.subscription.created', created, { created: t0 });
    const upgraded = fake.updateSubscription(created.id, { priceId: 'price_ent_wh' });
    const e2 = eventObject('customer.subscription.updated', upgraded, { created: t0 + 60 });
    const canceling = fake.updateSubscription(created.id, { cancelAtPeriodEnd: true, canceledAt: t0 + 120 });
    const e3 = eventObject('customer.subscription.updated', canceling, { created: t0 + 120 });

    const outcomes = [];
    for (const event of [e3, e2, e1]) outcomes.push((await deliver(server, fake, event)).body.outcome);
    expect(outcomes).toEqual(['subscription_active', 'subscription_active_retrieved', 'subscription_active_retrieved']);
    expect(await planOf(server, userId)).toBe('enterprise');
    expect((await b.trpc.billing.status.query()).subscription).toMatchObject({ plan: 'enterprise', status: 'active', cancelAtPeriodEnd: true });

    // Then the deletion, and a stale "updated" (still active) arriving after it: stays canceled.
    const deleted = fake.updateSubscription(created.id, { status: 'canceled', endedAt: t0 + 200 });
    await deliver(server, fake, eventObject('customer.subscription.deleted', deleted, { created: t0 + 200 }));
    await deliver(server, fake, eventObject('customer.subscription.updated', canceling, { created: t0 + 150 }));
    await deliver(server, fake, e2);
    expect(await planOf(server, userId)).toBe('free');
    expect((await b.trpc.billing.status.query()).subscription).toMatchObject({ status: 'canceled' });
  });

  it('a whole checkout delivered backwards (invoice, subscription, session) ends subscribed', async () => {
    const { b, userId } = await signUp(server, 'backwards');
    const { url } = await b.trpc.billing.checkout.mutate({ plan: 'pro' });
    const session = [...fake.sessions.values()].find((s) => s.session.url === url)!.session;
    const { events } = fake.completeCheckout(session.id);
    for (const event of [...events].reverse()) expect((await deliver(server, fake, event)).status).toBe(200);
    expect(await planOf(server, userId)).toBe('pro');
    expect((await b.trpc.billing.status.query()).payments).toHaveLength(1);
  });

  it("a checkout's events delivered all at once, twice over, give one subscription and one payment", async () => {
    const { b, userId } = await signUp(server, 'burst');
    // Three first checkouts at once still make one Stripe customer.
    const urls = await Promise.all([
      b.trpc.billing.checkout.mutate({ pack: 'pack_100k' }),
      b.trpc.billing.checkout.mutate({ pack: 'pack_1m' }),
      b.trpc.billing.checkout.mutate({ plan: 'pro' }),
    ]);
    const sessions = urls.map(({ url }) => [...fake.sessions.values()].find((s) => s.session.url === url)!.session);
    expect(new Set(sessions.map((s) => s.customer)).size).toBe(1);
    expect(await server.deps.prisma.billingCustomer.count({ where: { userId } })).toBe(1);

    const { events } = fake.completeCheckout(sessions[2]!.id);
    const results = await Promise.all([...events, ...events].map((event) => deliver(server, fake, event)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(await planOf(server, userId)).toBe('pro');
    expect(await server.deps.prisma.subscription.count({ where: { userId } })).toBe(1);
    expect(await server.deps.prisma.payment.count({ where: { userId } })).toBe(1);
  });

  it('a failure while applying is retried by redelivery and then applies exactly once', async () => {
    const { b, userId } = await signUp(server, 'retry');
    const { url } = await b.trpc.billing.checkout.mutate({ plan: 'pro' });
    const session = [...fake.sessions.values()].find((s) => s.session.url === url)!.session;
    const { events } = fake.completeCheckout(session.id);
    const completed = events[0]!;
    fake.failNext(/GET \/v1\/subscriptions\//, 100);
    let failed;
    try {
      failed = await deliver(server, fake, completed);
    } finally {
      fake.clearFailures();
    }
    expect(failed.status).toBe(500);
    expect(
      await server.deps.prisma.stripeEvent.findUnique({ where: { id: completed.id }, select: { processedAt: true, attempts: true, error: true } }),
    ).toMatchObject({
      processedAt: null,
      attempts: 1,
      error: expect.any(String),
    });
    expect(await planOf(server, userId)).toBe('free');
    expect(await server.deps.prisma.subscription.count({ where: { userId } })).toBe(0);

    expect(await deliver(server, fake, completed)).toMatchObject({ status: 200, body: { outcome: 'subscription_active' } });
    expect(await planOf(server, userId)).toBe('pro');
    expect(await deliver(server, fake, completed)).toMatchObject({ status: 200, body: { outcome: 'duplicate' } });
    expect(await server.deps.prisma.stripeEvent.findUnique({ where: { id: completed.id }, select: { attempts: true, error: true } })).toEqual({
      attempts: 2,
      error: null,
    });
  });

  it('unknown event types are acknowledged and ignored; events about strangers are acknowledged, recorded, not applied', async () => {
    const before = await server.deps.prisma.user.count({ where: { planId: { not: 'free' } } });
    const unknown = eventObject('customer.created', { id: 'cus_x', object: 'customer' });
    expect(await deliver(server, fake, unknown)).toMatchObject({ status: 200, body: { received: true, outcome: 'ignored' } });
    const stranger = fake.putSubscription({
      customer: 'cus_stranger',
      priceId: 'price_pro_wh',
      status: 'active',
      periodStart: unixNow(),
      periodEnd: unixNow() + 86_400,
    });
    const event = eventObject('customer.subscription.created', stranger);
    expect(await deliver(server, fake, event)).toMatchObject({ status: 200, body: { outcome: 'rejected' } });
    expect(await server.deps.prisma.stripeEvent.findUnique({ where: { id: event.id }, select: { outcome: true, error: true } })).toEqual({
      outcome: 'rejected',
      error: expect.stringMatching(/no ChatMeter account/),
    });
    expect(await server.deps.prisma.user.count({ where: { planId: { not: 'free' } } })).toBe(before);
  });
});
