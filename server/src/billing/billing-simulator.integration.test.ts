// The offline billing simulator (BILLING_SIMULATOR=1, no Stripe key), over HTTP as
// the Billing tab uses it: a free user at the limit takes the test checkout for Pro
// (signed Stripe-shaped events through the real webhook handler) and chats again.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PLANS, type TPlan } from '@chatmeter/shared/plans';
import { parseEnv } from '../env.ts';
import { ledger, planOf, signUp } from '../../test/helpers/billing.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestServer } from '../../test/helpers/server.ts';

// A Free plan of two messages a day, so the limit is reached quickly.
const plans: TPlan[] = DEFAULT_PLANS.map((p) => (p.id === 'free' ? { ...p, limits: { ...p.limits, messagesPerDay: 2 } } : p));
const plansFile = path.join(mkdtempSync(path.join(tmpdir(), 'chatmeter-sim-')), 'plans.json');
writeFileSync(plansFile, JSON.stringify(plans));

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ BILLING_SIMULATOR: '1', PLANS_FILE: plansFile });
});
afterAll(async () => {
  await server?.close();
});

async function checkoutAndPay(b: Awaited<ReturnType<typeof signUp>>['b'], input: { plan: string } | { pack: string }) {
  const { url } = await b.trpc.billing.checkout.mutate(input);
  expect(url).toMatch(/^\/billing\?simulated_checkout=cs_sim_/);
  const sessionId = new URL(url, 'http://x').searchParams.get('simulated_checkout')!;
  const described = await b.trpc.billing.simulatedCheckout.query({ sessionId });
  const result = await b.trpc.billing.simulate.mutate({ action: 'complete_checkout', sessionId });
  return { sessionId, described, result };
}

describe('billing simulator', () => {
  it('is refused in production unless explicitly allowed', () => {
    expect(() => parseEnv({ NODE_ENV: 'production', BILLING_SIMULATOR: '1' })).toThrow(/BILLING_SIMULATOR/);
    expect(parseEnv({ NODE_ENV: 'production', BILLING_SIMULATOR: '1', BILLING_SIMULATOR_ALLOW_PRODUCTION: '1' }).BILLING_SIMULATOR).toBe(true);
    expect(parseEnv({}).BILLING_SIMULATOR).toBe(false);
  });

  it('free user at the limit -> test checkout for Pro -> chat works again', async () => {
    const { b, userId } = await signUp(server, 'sim');
    expect((await send(b, { content: 'first' })).done?.status).toBe('ok');
    expect((await send(b, { content: 'second' })).done?.status).toBe('ok');
    const refused = await trpcError(send(b, { content: 'third' }));
    expect(refused).toMatchObject({ code: 'PAYMENT_REQUIRED', reason: 'quota_exhausted' });
    expect(refused.data.upgrade).toBe(true);

    const status = await b.trpc.billing.status.query();
    expect(status).toMatchObject({ mode: 'simulator', plan: 'free', purchasablePlans: ['pro', 'enterprise'] });

    const { described, result, sessionId } = await checkoutAndPay(b, { plan: 'pro' });
    expect(described).toMatchObject({ kind: 'subscription', description: 'Pro plan, monthly', amountCents: 1_500, planId: 'pro' });
    expect(result.outcomes).toEqual([
      'checkout.session.completed: subscription_active',
      'customer.subscription.created: subscription_active_retrieved',
      'invoice.paid: invoice_paid',
    ]);
    expect(result.redirectTo).toMatch(/^\/billing\?checkout=success/);

    expect(await planOf(server, userId)).toBe('pro');
    expect((await b.trpc.auth.me.query())!.plan).toBe('pro');
    expect((await send(b, { content: 'third, now on Pro' })).done?.status).toBe('ok');

    // The events went through the real handler: signed, stored, processed.
    const events = await server.deps.prisma.stripeEvent.findMany({
      where: { type: { in: ['checkout.session.completed', 'customer.subscription.created', 'invoice.paid'] } },
      select: { type: true, processedAt: true },
    });
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events.every((e) => e.processedAt)).toBe(true);

    // A test checkout completes once.
    expect(await trpcError(b.trpc.billing.simulate.mutate({ action: 'complete_checkout', sessionId }))).toMatchObject({ code: 'NOT_FOUND' });
    const after = await b.trpc.billing.status.query();
    expect(after.subscription).toMatchObject({ plan: 'pro', status: 'active', cancelAtPeriodEnd: false });
    expect(after.payments[0]).toMatchObject({ kind: 'subscription', status: 'paid', amountMicroUsd: 15_000_000 });
  });

  it('plays the portal: change plan, cancel at period end, resume, payment failure, renewal, cancellation', async () => {
    const { b, userId } = await signUp(server, 'sim-portal');
    await checkoutAndPay(b, { plan: 'pro' });
    expect(await b.trpc.billing.portal.mutate()).toEqual({ url: '/billing?simulated_portal=1' });

    const change = await checkoutAndPay(b, { plan: 'enterprise' });
    expect(change.described).toMatchObject({ kind: 'plan_change', planId: 'enterprise' });
    expect(await planOf(server, userId)).toBe('enterprise');

    await b.trpc.billing.simulate.mutate({ action: 'cancel_at_period_end' });
    expect((await b.trpc.billing.status.query()).subscription).toMatchObject({ cancelAtPeriodEnd: true, status: 'active' });
    expect(await planOf(server, userId)).toBe('enterprise');
    await b.trpc.billing.simulate.mutate({ action: 'resume' });
    expect((await b.trpc.billing.status.query()).subscription).toMatchObject({ cancelAtPeriodEnd: false });

    await b.trpc.billing.simulate.mutate({ action: 'payment_failed' });
    const pastDue = await b.trpc.billing.status.query();
    expect(pastDue.subscription).toMatchObject({ status: 'past_due', graceEndsAt: expect.any(Date) });
    expect(await planOf(server, userId)).toBe('enterprise');

    await b.trpc.billing.simulate.mutate({ action: 'renew' });
    expect((await b.trpc.billing.status.query()).subscription).toMatchObject({ status: 'active', graceEndsAt: null });

    await b.trpc.billing.simulate.mutate({ action: 'cancel_now' });
    expect(await planOf(server, userId)).toBe('free');
    expect((await b.trpc.billing.status.query()).subscription).toMatchObject({ status: 'canceled' });
    expect(await trpcError(b.trpc.billing.simulate.mutate({ action: 'renew' }))).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('buys a credit pack and refunds it', async () => {
    const { b, userId } = await signUp(server, 'sim-pack');
    const { result } = await checkoutAndPay(b, { pack: 'pack_100k' });
    expect(result.outcomes).toEqual(['checkout.session.completed: pack_granted']);
    expect((await b.trpc.billing.status.query()).credits.tokens).toBe(100_000);
    await b.trpc.billing.simulate.mutate({ action: 'refund_last_pack' });
    const book = await ledger(server, userId);
    expect(book.balance).toBe(0n);
    expect(book.entries.map((e) => e.kind)).toEqual(['purchase', 'refund']);
    expect(await trpcError(b.trpc.billing.simulate.mutate({ action: 'refund_last_pack' }))).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('the webhook route verifies with the per-process secret: an outsider cannot post events', async () => {
    const response = await fetch(`${server.url}/webhooks/stripe`, { method: 'POST', headers: { 'stripe-signature': 't=1,v1=00' }, body: '{}' });
    expect(response.status).toBe(400);
  });
});
