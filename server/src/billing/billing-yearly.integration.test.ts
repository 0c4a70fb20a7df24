// Yearly plans: checkout with the yearly Stripe price, the plan from a yearly
// subscription's webhook, and the allowance resetting every month inside the year
// (the quota month is a monthly window anchored at the period start). Also the
// offline simulator selling a year.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import { addMonths } from './effective-plan.ts';
import { addYear, eventObject, unixNow } from './stripe-objects.ts';
import { startStripeFake, type StripeFake } from '../../test/fakes/stripe-server.ts';
import { deliver, deliverAll, planOf, signUp } from '../../test/helpers/billing.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestServer } from '../../test/helpers/server.ts';

const PRICES = { price_pro_m: 1_500, price_pro_y: 15_000, price_ent_m: 9_900, price_100k_y: 500, price_1m_y: 4_000 };
const pro = DEFAULT_PLANS.find((p) => p.id === 'pro')!;

let fake: StripeFake;
let server: TestServer;
beforeAll(async () => {
  fake = await startStripeFake({ prices: PRICES, yearlyPrices: ['price_pro_y'] });
  // Pro is sold monthly and yearly; Enterprise monthly only.
  server = await startTestServer(
    fake.env({
      STRIPE_PRICE_PRO: 'price_pro_m',
      STRIPE_PRICE_PRO_YEARLY: 'price_pro_y',
      STRIPE_PRICE_ENTERPRISE: 'price_ent_m',
      STRIPE_PRICE_PACK_100K: 'price_100k_y',
      STRIPE_PRICE_PACK_1M: 'price_1m_y',
    }),
  );
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

const sessionFor = (url: string) => [...fake.sessions.values()].find((s) => s.session.url === url)!;

describe('yearly plans', () => {
  it('plans.list shows yearly prices; billing.status says which plans are sold by the year', async () => {
    const { b } = await signUp(server, 'yearly-list');
    const plans = await b.trpc.plans.list.query();
    expect(plans.map((p) => [p.id, p.priceMonthlyCents, p.priceYearlyCents])).toEqual([
      ['guest', 0, 0],
      ['free', 0, 0],
      ['pro', 1_500, 15_000],
      ['enterprise', 9_900, 99_000],
    ]);
    expect(plans.some((p) => 'stripePriceIdYearly' in p)).toBe(false);
    expect(await b.trpc.billing.status.query()).toMatchObject({ purchasablePlans: ['pro', 'enterprise'], purchasableYearlyPlans: ['pro'] });
  });

  it('checkout with interval year opens a Stripe session with the yearly price; without it, the monthly one; no yearly price is a clear BAD_REQUEST', async () => {
    const { b, userId } = await signUp(server, 'yearly-checkout');
    const yearly = await b.trpc.billing.checkout.mutate({ plan: 'pro', interval: 'year' });
    expect(sessionFor(yearly.url).params).toMatchObject({
      mode: 'subscription',
      client_reference_id: userId,
      line_items: [{ price: 'price_pro_y', quantity: '1' }],
      metadata: { user_id: userId, plan_id: 'pro', interval: 'year' },
      subscription_data: { metadata: { user_id: userId, plan_id: 'pro', interval: 'year' } },
    });
    // The request as the real stripe SDK sent it to (fake) Stripe.
    const request = fake.requestsTo('POST', '/v1/checkout/sessions').at(-1)!;
    expect(request.body.line_items).toEqual([{ price: 'price_pro_y', quantity: '1' }]);

    for (const input of [{ plan: 'pro' }, { plan: 'pro', interval: 'month' as const }]) {
      const monthly = await b.trpc.billing.checkout.mutate(input);
      expect(sessionFor(monthly.url).params.line_items).toEqual([{ price: 'price_pro_m', quantity: '1' }]);
    }

    const noYearly = await trpcError(b.trpc.billing.checkout.mutate({ plan: 'enterprise', interval: 'year' }));
    expect(noYearly).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(noYearly.message).toMatch(/Enterprise plan is not sold by the year/);
    expect(await trpcError(b.trpc.billing.checkout.mutate({ plan: 'pro', interval: 'week' } as never))).toMatchObject({
      code: 'BAD_REQUEST',
      reason: 'invalid_input',
    });
    expect(await trpcError(b.trpc.billing.checkout.mutate({ pack: 'pack_1m', interval: 'year' } as never))).toMatchObject({ code: 'BAD_REQUEST' });
    expect(await trpcError(b.trpc.billing.checkout.mutate({ plan: 'free', interval: 'year' }))).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
  });

  it('the webhooks of a yearly subscription give the plan; the quota month is the first month of the year, not the year', async () => {
    const { b, userId } = await signUp(server, 'yearly-sub');
    const { url } = await b.trpc.billing.checkout.mutate({ plan: 'pro', interval: 'year' });
    const at = unixNow() - 60;
    const paid = fake.completeCheckout(sessionFor(url).session.id, at);
    const item = paid.subscription!.items.data[0]!;
    expect(item.price.recurring).toMatchObject({ interval: 'year' });
    expect(item.current_period_end).toBe(addYear(at));
    expect((await deliverAll(server, fake, paid.events)).map((r) => r.body.outcome)).toEqual([
      'subscription_active',
      'subscription_active_retrieved',
      'invoice_paid',
    ]);

    expect(await planOf(server, userId)).toBe('pro');
    const status = await b.trpc.billing.status.query();
    expect(status).toMatchObject({ plan: 'pro', subscription: { plan: 'pro', status: 'active', interval: 'year' } });
    expect(status.subscription!.currentPeriodEnd!.getTime()).toBe(addYear(at) * 1000);
    expect(status.payments).toEqual([
      expect.objectContaining({ kind: 'subscription', status: 'paid', amountMicroUsd: 150_000_000, description: 'Pro plan (first year)' }),
    ]);

    const summary = await b.trpc.usage.summary.query();
    expect(summary.limits).toEqual(pro.limits);
    expect(summary.period).toEqual({ start: new Date(at * 1000), end: addMonths(new Date(at * 1000), 1) });

    // The same plan by the year again is a conflict; monthly billing is a change on the same subscription.
    expect(await trpcError(b.trpc.billing.checkout.mutate({ plan: 'pro', interval: 'year' }))).toMatchObject({ code: 'CONFLICT', reason: 'conflict' });
    const toMonthly = await b.trpc.billing.checkout.mutate({ plan: 'pro' });
    expect(toMonthly.url).toMatch(/^https:\/\/billing\.stripe\.com\//);
    expect(fake.requestsTo('POST', '/v1/billing_portal/sessions').at(-1)!.body.flow_data).toMatchObject({
      type: 'subscription_update_confirm',
      subscription_update_confirm: { subscription: paid.subscription!.id, items: [{ id: item.id, price: 'price_pro_m', quantity: '1' }] },
    });
  });

  it('the allowance resets every month inside the yearly period', async () => {
    const { b, userId, email } = await signUp(server, 'yearly-months');
    await b.trpc.billing.checkout.mutate({ pack: 'pack_100k' }); // creates the Stripe customer
    const customer = (await server.deps.prisma.billingCustomer.findUnique({ where: { userId }, select: { stripeCustomerId: true } }))!.stripeCustomerId;
    // A year that began two months ago (less an hour): the third month starts in about an hour.
    const start = addMonths(new Date(Date.now() + 3_600_000), -2);
    start.setUTCMilliseconds(0);
    const thirdMonth = addMonths(start, 2);
    expect(thirdMonth.getTime()).toBeGreaterThan(Date.now());
    const sub = fake.putSubscription({
      customer,
      priceId: 'price_pro_y',
      status: 'active',
      periodStart: start.getTime() / 1000,
      periodEnd: addYear(start.getTime() / 1000),
      metadata: { user_id: userId },
    });
    expect((await deliver(server, fake, eventObject('customer.subscription.created', sub))).body.outcome).toBe('subscription_active');

    const second = await b.trpc.usage.summary.query();
    expect(second.plan).toBe('pro');
    expect(second.period).toEqual({ start: addMonths(start, 1), end: thirdMonth });
    expect((await send(b, { content: `hello from ${email} in the second month` })).done?.status).toBe('ok');
    const used = (await b.trpc.usage.summary.query()).used.tokensThisMonth;
    expect(used).toBeGreaterThan(0);

    // A minute into the third month (same yearly period, nothing from Stripe): a fresh allowance.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(thirdMonth.getTime() + 60_000);
    const third = await b.trpc.usage.summary.query();
    expect(third.period).toEqual({ start: thirdMonth, end: addMonths(start, 3) });
    expect(third.used.tokensThisMonth).toBe(0);
    expect(third.limits.tokensPerMonth).toBe(pro.limits.tokensPerMonth);
    expect((await send(b, { content: 'and in the third month' })).done?.status).toBe('ok');
    expect((await b.trpc.usage.summary.query()).used.tokensThisMonth).toBeGreaterThan(0);
    vi.useRealTimers();
    // Back in the second month, its own usage is still what it was.
    expect((await b.trpc.usage.summary.query()).used.tokensThisMonth).toBe(used);
  });
});

describe('the simulator sells a year', () => {
  let sim: TestServer;
  beforeAll(async () => {
    sim = await startTestServer({ BILLING_SIMULATOR: '1' });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('yearly test checkout -> a yearly subscription; the renewal starts another year', async () => {
    const { b, userId } = await signUp(sim, 'sim-yearly');
    expect(await b.trpc.billing.status.query()).toMatchObject({ mode: 'simulator', purchasableYearlyPlans: ['pro', 'enterprise'] });
    const { url } = await b.trpc.billing.checkout.mutate({ plan: 'pro', interval: 'year' });
    const sessionId = new URL(url, 'http://x').searchParams.get('simulated_checkout')!;
    expect(await b.trpc.billing.simulatedCheckout.query({ sessionId })).toMatchObject({
      kind: 'subscription',
      description: 'Pro plan, yearly',
      amountCents: 15_000,
      planId: 'pro',
    });
    const result = await b.trpc.billing.simulate.mutate({ action: 'complete_checkout', sessionId });
    expect(result.outcomes.at(-1)).toBe('invoice.paid: invoice_paid');
    expect(await planOf(sim, userId)).toBe('pro');

    const status = await b.trpc.billing.status.query();
    expect(status.subscription).toMatchObject({ plan: 'pro', status: 'active', interval: 'year' });
    const { currentPeriodStart, currentPeriodEnd } = status.subscription!;
    expect(currentPeriodEnd!.getTime()).toBe(addYear(currentPeriodStart!.getTime() / 1000) * 1000);
    expect(status.payments[0]).toMatchObject({ description: 'Pro plan (first year)', amountMicroUsd: 150_000_000 });
    expect((await b.trpc.usage.summary.query()).period).toEqual({ start: currentPeriodStart, end: addMonths(currentPeriodStart!, 1) });

    await b.trpc.billing.simulate.mutate({ action: 'renew' });
    const renewed = (await b.trpc.billing.status.query()).subscription!;
    expect(renewed.currentPeriodEnd!.getTime()).toBe(addYear(renewed.currentPeriodStart!.getTime() / 1000) * 1000);
  });
});
