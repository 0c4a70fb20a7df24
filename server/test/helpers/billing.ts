import type Stripe from 'stripe';
import type { StripeFake } from '../fakes/stripe-server.ts';
import type { TestBrowser, TestServer } from './server.ts';

let counter = 0;

/** A signed-up account in its own browser (own cookie jar and client IP). */
export async function signUp(server: TestServer, label = 'buyer'): Promise<{ b: TestBrowser; userId: string; email: string }> {
  counter++;
  // With APP_ORIGIN set, the CSRF check wants that origin on mutations.
  const origin = server.deps.env.APP_ORIGIN[0];
  const b = server.browser({ ip: `10.77.${Math.floor(counter / 250)}.${(counter % 250) + 1}`, ...(origin ? { origin } : {}) });
  const email = `${label}-${counter}-${Date.now().toString(36)}@example.com`;
  const { user } = await b.trpc.auth.signUp.mutate({ email, password: 'correct horse battery' });
  return { b, userId: user.id, email };
}

/** POSTs an event to /webhooks/stripe the way Stripe does (fresh signature per delivery unless given). */
export async function deliver(
  server: TestServer,
  fake: StripeFake,
  event: Stripe.Event,
  options: { timestamp?: number; secret?: string; signature?: string | null; body?: string } = {},
): Promise<{ status: number; body: any }> {
  const signed = fake.sign(event, options);
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  const signature = options.signature === undefined ? signed.signature : options.signature;
  if (signature !== null) headers['stripe-signature'] = signature;
  const response = await fetch(`${server.url}/webhooks/stripe`, { method: 'POST', headers, body: options.body ?? signed.body });
  return { status: response.status, body: await response.json().catch(() => null) };
}

export async function deliverAll(server: TestServer, fake: StripeFake, events: Stripe.Event[]): Promise<{ status: number; body: any }[]> {
  const results = [];
  for (const event of events) results.push(await deliver(server, fake, event));
  return results;
}

export async function planOf(server: TestServer, userId: string): Promise<string> {
  const user = await server.deps.prisma.user.findUnique({ where: { id: userId }, select: { planId: true } });
  return user!.planId;
}

/** The credit ledger of one user: its entries and whether their sum is the stored balance. */
export async function ledger(server: TestServer, userId: string) {
  const entries = await server.deps.prisma.creditLedgerEntry.findMany({
    where: { userId },
    orderBy: { id: 'asc' },
    select: { deltaTokens: true, balanceAfter: true, kind: true, reason: true, sourceEventId: true, actorId: true },
  });
  const account = await server.deps.prisma.creditAccount.findUnique({ where: { userId }, select: { balanceTokens: true } });
  const sum = entries.reduce((total, e) => total + e.deltaTokens, 0n);
  return { entries, balance: account?.balanceTokens ?? 0n, sum };
}

export const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Everything a Stripe event could change, for "nothing was written" checks: plans,
 * subscriptions, payments, pack purchases and disputes, customers, the credit ledger
 * and balances, and the e-mail outbox. Only stripe_events itself is left out.
 */
export async function billingSnapshot(server: TestServer) {
  const p = server.deps.prisma;
  return {
    plans: await p.user.findMany({ orderBy: { id: 'asc' }, select: { id: true, planId: true } }),
    subscriptions: await p.subscription.findMany({ orderBy: { id: 'asc' } }),
    payments: await p.payment.findMany({ orderBy: { id: 'asc' } }),
    packs: await p.packPurchase.findMany({ orderBy: { checkoutSessionId: 'asc' } }),
    disputes: await p.packDispute.findMany({ orderBy: { disputeId: 'asc' } }),
    customers: await p.billingCustomer.findMany({ orderBy: { userId: 'asc' } }),
    ledger: await p.creditLedgerEntry.findMany({ orderBy: { id: 'asc' } }),
    balances: await p.creditAccount.findMany({ orderBy: { userId: 'asc' } }),
    outbox: await p.emailOutbox.count(),
  };
}
