// Billing against a local fake Stripe that the real stripe SDK talks to over HTTP
// (STRIPE_API_HOST/PORT/PROTOCOL), with events signed by
// stripe.webhooks.generateTestHeaderString and posted to /webhooks/stripe.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import { addMonth, eventObject, unixNow } from './stripe-objects.ts';
import { startStripeFake, type StripeFake } from '../../test/fakes/stripe-server.ts';
import { DAY_MS, deliver, deliverAll, planOf, signUp } from '../../test/helpers/billing.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestServer } from '../../test/helpers/server.ts';

const PRICES = { price_pro_test: 1_500, price_enterprise_test: 9_900, price_pack100k_test: 500, price_pack1m_test: 4_000 };
const pro = DEFAULT_PLANS.find((p) => p.id === 'pro')!;
const enterprise = DEFAULT_PLANS.find((p) => p.id === 'enterprise')!;
const free = DEFAULT_PLANS.find((p) => p.id === 'free')!;

let fake: StripeFake;
let server: TestServer;
beforeAll(async () => {
  fake = await startStripeFake({ prices: PRICES });
  server = await startTestServer(
    fake.env({
      STRIPE_PRICE_PRO: 'price_pro_test',
      STRIPE_PRICE_ENTERPRISE: 'price_enterprise_test',
      STRIPE_PRICE_PACK_100K: 'price_pack100k_test',
      STRIPE_PRICE_PACK_1M: 'price_pack1m_test',
      BILLING_GRACE_DAYS: '7',
      APP_ORIGIN: 'https://chat.example.com',
    }),
  );
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** Signs up, opens a Pro checkout and pays it: the three events Stripe sends, delivered. */
async function subscribe(planId: 'pro' | 'enterprise' = 'pro') {
  const account = await signUp(server);
  const { url } = await account.b.trpc.billing.checkout.mutate({ plan: planId });
  const sessionId = [...fake.sessions.values()].find((s) => s.session.url === url)!.session.id;
  const paid = fake.completeCheckout(sessionId);
  const results = await deliverAll(server, fake, paid.events);
  expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
  return { ...account, subscription: paid.subscription!, sessionId };
}

describe('configuration and checkout sessions', () => {
  it('lists the packs and shows a new account on Free with nothing bought', async () => {
    const { b } = await signUp(server);
    expect(await b.trpc.billing.packs.query()).toEqual([
      { id: 'pack_100k', name: '100k tokens', tokens: 100_000, priceCents: 500 },
      { id: 'pack_1m', name: '1M tokens', tokens: 1_000_000, priceCents: 4_000 },
    ]);
    expect(await b.trpc.billing.status.query()).toMatchObject({
      mode: 'stripe',
      plan: 'free',
      subscription: null,
      credits: { tokens: 0 },
      payments: [],
      purchasablePlans: ['pro', 'enterprise'],
    });
  });

  it('a plan checkout is a subscription session carrying the user; one Stripe customer per user, reused', async () => {
    const { b, userId, email } = await signUp(server);
    const { url } = await b.trpc.billing.checkout.mutate({ plan: 'pro' });
    expect(url).toMatch(/^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_test_/);

    const creates = fake.requestsTo('POST', '/v1/customers').filter((r) => r.body.metadata?.user_id === userId);
    expect(creates).toHaveLength(1);
    expect(creates[0]!.body).toMatchObject({ email, metadata: { user_id: userId } });
    expect(creates[0]!.headers['idempotency-key']).toBe(`chatmeter-customer-${userId}`);
    const stored = await server.deps.prisma.billingCustomer.findUnique({ where: { userId }, select: { stripeCustomerId: true } });
    expect(stored?.stripeCustomerId).toMatch(/^cus_/);

    const session = [...fake.sessions.values()].find((s) => s.session.url === url)!;
    expect(session.params).toMatchObject({
      mode: 'subscription',
      customer: stored!.stripeCustomerId,
      client_reference_id: userId,
      line_items: [{ price: 'price_pro_test', quantity: '1' }],
      metadata: { user_id: userId, plan_id: 'pro' },
      subscription_data: { metadata: { user_id: userId, plan_id: 'pro' } },
      success_url: 'https://chat.example.com/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}',
      cancel_url: 'https://chat.example.com/billing?checkout=canceled',
    });

    // A pack checkout reuses the same customer and is a one-time payment.
    const pack = await b.trpc.billing.checkout.mutate({ pack: 'pack_1m' });
    const packSession = [...fake.sessions.values()].find((s) => s.session.url === pack.url)!;
    expect(packSession.params).toMatchObject({
      mode: 'payment',
      customer: stored!.stripeCustomerId,
      client_reference_id: userId,
      line_items: [{ price: 'price_pack1m_test', quantity: '1' }],
      metadata: { user_id: userId, pack_id: 'pack_1m' },
      payment_intent_data: { metadata: { user_id: userId, pack_id: 'pack_1m' } },
    });
    expect(fake.requestsTo('POST', '/v1/customers').filter((r) => r.body.metadata?.user_id === userId)).toHaveLength(1);
  });

  it('a customer deleted in Stripe is replaced on the next checkout', async () => {
    const { b, userId } = await signUp(server);
    await b.trpc.billing.checkout.mutate({ pack: 'pack_100k' });
    const first = (await server.deps.prisma.billingCustomer.findUnique({ where: { userId }, select: { stripeCustomerId: true } }))!.stripeCustomerId;
    fake.deletedCustomers.add(first);
    await b.trpc.billing.checkout.mutate({ pack: 'pack_100k' });
    const second = (await server.deps.prisma.billingCustomer.findUnique({ where: { userId }, select: { stripeCustomerId: true } }))!.stripeCustomerId;
    expect(second).not.toBe(first);
  });

  it('refuses what cannot be bought, with a reason and never a 500', async () => {
    const { b } = await signUp(server);
    expect(await trpcError(b.trpc.billing.checkout.mutate({ plan: 'nope' }))).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(await trpcError(b.trpc.billing.checkout.mutate({ plan: 'free' }))).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(await trpcError(b.trpc.billing.checkout.mutate({ pack: 'pack_10m' }))).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(await trpcError(b.trpc.billing.checkout.mutate({} as never))).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(await trpcError(b.trpc.billing.checkout.mutate({ plan: 'pro', pack: 'pack_1m' } as never))).toMatchObject({ code: 'BAD_REQUEST' });
    expect(await trpcError(b.trpc.billing.checkout.mutate({ plan: 'x'.repeat(5_000) }))).toMatchObject({ code: 'BAD_REQUEST' });
    expect(await trpcError(b.trpc.billing.portal.mutate())).toMatchObject({ code: 'NOT_FOUND', reason: 'not_found' });
    expect(await trpcError(b.trpc.billing.simulate.mutate({ action: 'renew' }))).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });

    const guest = server.browser({ ip: '10.66.0.1', origin: 'https://chat.example.com' });
    await guest.trpc.auth.guest.mutate();
    expect(await trpcError(guest.trpc.billing.checkout.mutate({ plan: 'pro' }))).toMatchObject({ code: 'UNAUTHORIZED', reason: 'unauthenticated' });
    expect((await guest.trpc.billing.status.query()).plan).toBe('guest');
  });

  it('a Stripe outage on checkout is a 503 for the user, not a crash, and nothing is stored half-way', async () => {
    const { b, userId } = await signUp(server);
    fake.failNext(/POST \/v1\/checkout\/sessions/, 10);
    try {
      const error = await trpcError(b.trpc.billing.checkout.mutate({ plan: 'pro' }));
      expect(error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'provider_unavailable' });
    } finally {
      fake.clearFailures();
    }
    expect(await server.deps.prisma.subscription.count({ where: { userId } })).toBe(0);
  });
});

describe('subscriptions', () => {
  it("subscribe -> plan and limits change at once, and the quota month is Stripe's period", async () => {
    const { b, userId, subscription } = await subscribe('pro');
    expect(await planOf(server, userId)).toBe('pro');
    expect((await b.trpc.auth.me.query())!.plan).toBe('pro');

    const item = subscription.items.data[0]!;
    const summary = await b.trpc.usage.summary.query();
    expect(summary.plan).toBe('pro');
    expect(summary.limits).toEqual(pro.limits);
    expect(summary.period.start.getTime()).toBe(item.current_period_start * 1000);
    expect(summary.period.end.getTime()).toBe(item.current_period_end * 1000);

    const status = await b.trpc.billing.status.query();
    expect(status).toMatchObject({ plan: 'pro', subscription: { plan: 'pro', status: 'active', cancelAtPeriodEnd: false, graceEndsAt: null } });
    expect(status.subscription!.currentPeriodEnd!.getTime()).toBe(item.current_period_end * 1000);
    expect(status.payments).toEqual([
      expect.objectContaining({ kind: 'subscription', status: 'paid', amountMicroUsd: 15_000_000, description: 'Pro plan (first month)' }),
    ]);

    // The larger allowance is usable straight away.
    const reply = await send(b, { content: 'Hello from a new Pro subscriber' });
    expect(reply.done?.status).toBe('ok');

    // Buying the same plan again is refused; another plan goes through Stripe's portal on the same subscription.
    expect(await trpcError(b.trpc.billing.checkout.mutate({ plan: 'pro' }))).toMatchObject({ code: 'CONFLICT', reason: 'conflict' });
    const change = await b.trpc.billing.checkout.mutate({ plan: 'enterprise' });
    expect(change.url).toMatch(/^https:\/\/billing\.stripe\.com\//);
    const portalRequest = fake.requestsTo('POST', '/v1/billing_portal/sessions').at(-1)!;
    expect(portalRequest.body.flow_data).toMatchObject({
      type: 'subscription_update_confirm',
      subscription_update_confirm: { subscription: subscription.id, items: [{ id: item.id, price: 'price_enterprise_test', quantity: '1' }] },
    });
    expect(await b.trpc.billing.portal.mutate()).toEqual({ url: expect.stringMatching(/^https:\/\/billing\.stripe\.com\//) });

    // The portal change arrives as customer.subscription.updated.
    const later = unixNow() + 5;
    const updated = fake.updateSubscription(subscription.id, { priceId: 'price_enterprise_test' });
    expect((await deliver(server, fake, eventObject('customer.subscription.updated', updated, { created: later }))).status).toBe(200);
    expect(await planOf(server, userId)).toBe('enterprise');
    expect((await b.trpc.usage.summary.query()).limits).toEqual(enterprise.limits);
  });

  it('cancel -> paid until the period ends, then back to free (also when the deletion event is late)', async () => {
    const { b, userId, subscription } = await subscribe('pro');
    const periodEnd = subscription.items.data[0]!.current_period_end;
    const canceling = fake.updateSubscription(subscription.id, { cancelAtPeriodEnd: true, canceledAt: unixNow() });
    await deliver(server, fake, eventObject('customer.subscription.updated', canceling, { created: unixNow() + 10 }));
    expect(await planOf(server, userId)).toBe('pro');
    expect((await b.trpc.billing.status.query()).subscription).toMatchObject({ status: 'active', cancelAtPeriodEnd: true });

    // The period is over: the sweeper ends the paid plan even before Stripe's deletion arrives.
    expect(await server.deps.billing.sweep(new Date(periodEnd * 1000 - 1_000))).toBe(0);
    expect(await planOf(server, userId)).toBe('pro');
    expect(await server.deps.billing.sweep(new Date(periodEnd * 1000 + 1_000))).toBe(1);
    expect(await planOf(server, userId)).toBe('free');

    // And Stripe's deletion makes it final.
    const ended = fake.updateSubscription(subscription.id, { status: 'canceled', endedAt: periodEnd, cancelAtPeriodEnd: false });
    await deliver(server, fake, eventObject('customer.subscription.deleted', ended, { created: unixNow() + 20 }));
    expect(await planOf(server, userId)).toBe('free');
    const status = await b.trpc.billing.status.query();
    expect(status).toMatchObject({ plan: 'free', subscription: { status: 'canceled' } });
    expect((await b.trpc.usage.summary.query()).limits).toEqual(free.limits);
  });

  it('payment failed -> paid limits through the grace period, the user is told, then free; a later payment restores', async () => {
    const { b, userId, email, subscription } = await subscribe('pro');
    const failedAt = unixNow() + 10;
    const pastDue = fake.updateSubscription(subscription.id, { status: 'past_due' });
    const invoice = fake.invoiceFor(subscription.id, { status: 'open', billingReason: 'subscription_cycle', at: failedAt });
    await deliverAll(server, fake, [
      eventObject('invoice.payment_failed', invoice, { created: failedAt }),
      eventObject('customer.subscription.updated', pastDue, { created: failedAt }),
    ]);
    expect(await planOf(server, userId)).toBe('pro');
    const status = await b.trpc.billing.status.query();
    expect(status.subscription).toMatchObject({ status: 'past_due' });
    expect(status.subscription!.graceEndsAt!.getTime()).toBe(failedAt * 1000 + 7 * DAY_MS);
    expect(status.payments[0]).toMatchObject({ kind: 'subscription', status: 'failed', amountMicroUsd: 15_000_000 });
    const mail = await server.deps.prisma.emailOutbox.findMany({ where: { to: email }, select: { subject: true, body: true } });
    expect(mail).toEqual([expect.objectContaining({ subject: expect.stringMatching(/payment did not go through/) })]);
    expect(mail[0]!.body).toMatch(/https:\/\/chat\.example\.com\/billing/);

    expect(await server.deps.billing.sweep(new Date(failedAt * 1000 + 6 * DAY_MS))).toBe(0);
    expect(await planOf(server, userId)).toBe('pro');
    expect(await server.deps.billing.sweep(new Date(failedAt * 1000 + 7 * DAY_MS + 1_000))).toBe(1);
    expect(await planOf(server, userId)).toBe('free');

    // Stripe's retry succeeds: paid again, the failed invoice now shows as paid.
    const recovered = fake.updateSubscription(subscription.id, { status: 'active' });
    const paidInvoice = { ...invoice, status: 'paid', amount_paid: invoice.amount_due, amount_remaining: 0 } as typeof invoice;
    await deliver(server, fake, eventObject('invoice.paid', paidInvoice, { created: failedAt + 60 }));
    expect(recovered.status).toBe('active');
    expect(await planOf(server, userId)).toBe('pro');
    const after = await b.trpc.billing.status.query();
    expect(after.subscription).toMatchObject({ status: 'active', graceEndsAt: null });
    expect(after.payments.filter((p) => p.status === 'failed')).toEqual([]);
  });

  it('past_due evaluated lazily: the grace ends for the quota path even without the sweeper', async () => {
    const { userId, subscription } = await subscribe('pro');
    const at = unixNow() + 10;
    await deliver(
      server,
      fake,
      eventObject('customer.subscription.updated', fake.updateSubscription(subscription.id, { status: 'past_due' }), { created: at }),
    );
    await server.deps.billing.monthFor(userId, new Date(at * 1000 + 8 * DAY_MS));
    expect(await planOf(server, userId)).toBe('free');
  });

  it("invoice.paid for a new period resets the monthly allowance on Stripe's boundary", async () => {
    const { b, subscription } = await subscribe('pro');
    await send(b, { content: 'use some tokens this period' });
    const before = await b.trpc.usage.summary.query();
    expect(before.used.tokensThisMonth).toBeGreaterThan(0);

    const item = subscription.items.data[0]!;
    // The subscription moved to a new period (what a renewal does; a test clock would get there in a month).
    const nextStart = unixNow() - 60;
    const renewed = fake.updateSubscription(subscription.id, { periodStart: nextStart, periodEnd: addMonth(nextStart) });
    const invoice = fake.invoiceFor(subscription.id, { status: 'paid', billingReason: 'subscription_cycle', at: unixNow() + 30 });
    await deliver(server, fake, eventObject('invoice.paid', invoice, { created: unixNow() + 30 }));
    const after = await b.trpc.usage.summary.query();
    expect(after.period.start.getTime()).toBe(nextStart * 1000);
    expect(after.period.start.getTime()).not.toBe(item.current_period_start * 1000);
    expect(after.used.tokensThisMonth).toBe(0);
    expect(renewed.items.data[0]!.current_period_start).toBe(nextStart);
    const status = await b.trpc.billing.status.query();
    expect(status.payments.map((p) => p.description)).toEqual(['Pro plan (renewal)', 'Pro plan (first month)']);
  });
});
