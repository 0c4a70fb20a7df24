// Billing as the procedures and the rest of the server see it: checkout and
// portal sessions, the Billing tab's status, the quota month of paid users, and
// the sweeper that makes the past_due grace period (and a late cancellation)
// end on time. Stripe events are applied by webhook-handler.ts.
import type { PrismaClient, SqlQuery } from '@chatmeter/db/client';
import { findPack, type TBillingStatus, type TCheckoutInput, type TCreditPack, type TSimulateInput } from '@chatmeter/shared/billing';
import type { TPlan } from '@chatmeter/shared/plans';
import Stripe from 'stripe';
import type { ServerEnv } from '../env.ts';
import { AppError } from '../lib/app-error.ts';
import type { Logger } from '../lib/logger.ts';
import type { Mailer } from '../mail/mailer.ts';
import { creditBalance } from '../metering/credits.ts';
import { calendarMonth, type KnownSubscription, type MonthPeriod } from '../metering/periods.ts';
import type { PlanSubject } from '../plans/plan-resolver.ts';
import type { Limiters } from '../rate-limit/limiters.ts';
import { resolveBillingConfig, type BillingConfig } from './config.ts';
import { bestGrant, grantedPlan, graceEndsAt, subscriptionMonth } from './effective-plan.ts';
import { createStripeClient, StripeGateway, type BillingGateway } from './gateway.ts';
import { BillingSimulator, type SimulationResult } from './simulator.ts';
import { LIVE_STATUSES } from '../plans/live-statuses.ts';
import { SUBSCRIPTION_COLUMNS_SQL, SUBSCRIPTION_SELECT, SubscriptionStore, type SubscriptionRow } from './subscription-store.ts';
import { WebhookHandler } from './webhook-handler.ts';

/** Statuses that can be changed in place instead of starting a new Checkout. */
const CHANGEABLE_STATUSES = ['active', 'trialing', 'past_due', 'unpaid'];

export interface BillingUser {
  id: string;
  email: string | null;
  isGuest: boolean;
}

export interface BillingServiceOptions {
  env: ServerEnv;
  prisma: PrismaClient;
  /** monthFor's lookup runs outside Prisma (Database.query): it is on every chat's path. */
  query: SqlQuery;
  logger: Logger;
  plans: readonly TPlan[];
  /** Whose limits apply (plans/plan-resolver.ts): status shows the same plan as auth.me and usage.summary. */
  planFor: (user: PlanSubject) => TPlan;
  mailer: Mailer;
  limiters: Limiters;
  /** Absolute origin for Stripe's return URLs and e-mail links. */
  origin: string;
  /** From resolveBillingConfig (done first at start so a bad configuration stops it early). */
  config?: BillingConfig;
  /** Replaces the Stripe SDK gateway (tests). */
  gateway?: BillingGateway;
}

/** Stripe not answering (or refusing) is the payment provider being unavailable, not a bug of ours. */
async function viaStripe<T>(logger: Logger, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof Stripe.errors.StripeError) {
      logger.warn({ err: error.message, type: error.type, statusCode: error.statusCode }, `stripe: ${what} failed`);
      throw new AppError('provider_unavailable', 'The payment provider could not be reached. Please try again in a moment.', { retryAfterSeconds: 30 });
    }
    throw error;
  }
}

export class BillingService {
  readonly config: BillingConfig;
  readonly gateway: BillingGateway | undefined;
  readonly simulator: BillingSimulator | undefined;
  readonly webhooks: WebhookHandler;
  private readonly store: SubscriptionStore;

  constructor(private readonly options: BillingServiceOptions) {
    this.config = options.config ?? resolveBillingConfig(options.env, options.plans);
    this.store = new SubscriptionStore({
      plans: options.plans,
      graceDays: this.config.graceDays,
      planByPrice: this.config.planByPrice,
      logger: options.logger,
    });
    if (options.gateway) {
      this.gateway = options.gateway;
    } else if (this.config.mode === 'stripe') {
      this.gateway = new StripeGateway(createStripeClient(options.env));
    } else if (this.config.mode === 'simulator') {
      const priceAmounts = new Map<string, number>();
      for (const [planId, price] of this.config.planPrices) priceAmounts.set(price, options.plans.find((p) => p.id === planId)?.priceMonthlyCents ?? 0);
      for (const [planId, price] of this.config.planYearlyPrices) priceAmounts.set(price, options.plans.find((p) => p.id === planId)?.priceYearlyCents ?? 0);
      for (const [packId, price] of this.config.packPrices) priceAmounts.set(price, findPack(packId)?.priceCents ?? 0);
      this.simulator = new BillingSimulator({
        prisma: options.prisma,
        webhookSecret: this.config.webhookSecret!,
        priceAmounts,
        planPrices: this.config.planByPrice,
        priceIntervals: this.config.priceIntervals,
      });
      this.gateway = this.simulator;
    }
    this.webhooks = new WebhookHandler({
      prisma: options.prisma,
      logger: options.logger,
      config: this.config,
      gateway: this.gateway,
      store: this.store,
      plans: options.plans,
      mailer: options.mailer,
      origin: options.origin,
    });
    this.simulator?.attach((payload, signature) => this.webhooks.handle(Buffer.from(payload, 'utf8'), signature));
    if (this.config.mode === 'simulator')
      options.logger.warn('BILLING_SIMULATOR is on: the Billing tab offers test checkouts that grant plans and credits without payment');
  }

  get mode(): BillingConfig['mode'] {
    return this.config.mode;
  }

  packs(): TCreditPack[] {
    return this.config.packs.map((p) => ({ id: p.id, name: p.name, tokens: p.tokens, priceCents: p.priceCents }));
  }

  private requireGateway(): BillingGateway {
    if (!this.gateway) throw new AppError('billing_not_configured', 'Payments are not set up on this ChatMeter (no STRIPE_SECRET_KEY).');
    return this.gateway;
  }

  private returnUrl(query: string): string {
    // The simulator's pages are the Billing tab itself: keep its links on whatever origin the app is served from.
    return this.config.mode === 'simulator' ? `/billing?${query}` : `${this.options.origin}/billing?${query}`;
  }

  /** The user's Stripe customer: the stored one, else a new one (one per user, whoever asks first). */
  private async ensureCustomer(user: BillingUser): Promise<string> {
    const gateway = this.requireGateway();
    const stored = await this.options.prisma.billingCustomer.findUnique({ where: { userId: user.id }, select: { stripeCustomerId: true } });
    if (stored && (await viaStripe(this.options.logger, 'customer lookup', () => gateway.customerExists(stored.stripeCustomerId))))
      return stored.stripeCustomerId;
    const created = await viaStripe(this.options.logger, 'customer create', () =>
      gateway.createCustomer({ userId: user.id, email: user.email, ...(stored ? { replaces: stored.stripeCustomerId } : {}) }),
    );
    if (stored) {
      // Deleted in Stripe's dashboard: start over with the new customer.
      await this.options.prisma.billingCustomer.update({ where: { userId: user.id }, data: { stripeCustomerId: created }, select: { userId: true } });
      return created;
    }
    await this.options.prisma.billingCustomer.createMany({ data: [{ userId: user.id, stripeCustomerId: created }], skipDuplicates: true });
    const row = await this.options.prisma.billingCustomer.findUnique({ where: { userId: user.id }, select: { stripeCustomerId: true } });
    return row?.stripeCustomerId ?? created;
  }

  private async assertCanBuy(user: BillingUser): Promise<void> {
    if (user.isGuest) throw new AppError('unauthenticated', 'Create an account to buy a plan or credits.');
    this.requireGateway();
    await this.options.limiters.consume('billingCheckout', user.id, {
      spec: { points: 20, duration: 60 * 60 },
      message: 'Too many checkout attempts. Please wait a little.',
    });
  }

  async checkout(user: BillingUser, input: TCheckoutInput): Promise<{ url: string }> {
    await this.assertCanBuy(user);
    const gateway = this.requireGateway();
    if ('pack' in input) {
      const pack = findPack(input.pack);
      const price = pack ? this.config.packPrices.get(pack.id) : undefined;
      if (!pack || !price) throw new AppError('invalid_input', 'That credit pack is not for sale.');
      const customer = await this.ensureCustomer(user);
      const session = await viaStripe(this.options.logger, 'checkout', () =>
        gateway.createCheckoutSession({
          mode: 'payment',
          customer,
          client_reference_id: user.id,
          line_items: [{ price, quantity: 1 }],
          metadata: { user_id: user.id, kind: 'pack', pack_id: pack.id },
          payment_intent_data: { metadata: { user_id: user.id, pack_id: pack.id } },
          success_url: this.returnUrl('checkout=success&session_id={CHECKOUT_SESSION_ID}'),
          cancel_url: this.returnUrl('checkout=canceled'),
        }),
      );
      return { url: session.url };
    }

    const plan = this.options.plans.find((p) => p.id === input.plan);
    if (!plan) throw new AppError('invalid_input', 'There is no such plan.');
    const interval = input.interval ?? 'month';
    const price = (interval === 'year' ? this.config.planYearlyPrices : this.config.planPrices).get(plan.id);
    if (!price) {
      if (plan.id === 'free') throw new AppError('invalid_input', 'To move to the Free plan, cancel your subscription under Manage billing.');
      if (interval === 'year' && this.config.planPrices.has(plan.id)) {
        throw new AppError('invalid_input', `The ${plan.name} plan is not sold by the year here; choose monthly billing.`, { interval });
      }
      throw new AppError('invalid_input', `The ${plan.name} plan cannot be bought.`);
    }
    const current = await this.options.prisma.subscription.findFirst({
      where: { userId: user.id, status: { in: CHANGEABLE_STATUSES } },
      orderBy: { updatedAt: 'desc' },
      select: { id: true, itemId: true, priceId: true, planId: true, status: true, cancelAtPeriodEnd: true, stripeCustomerId: true },
    });
    if (current) {
      if (current.priceId === price && !current.cancelAtPeriodEnd) {
        throw new AppError('conflict', `You are already on the ${plan.name} plan${interval === 'year' ? ', billed yearly' : ''}.`);
      }
      // One subscription per user: a change of plan or of billing interval (or undoing a
      // cancellation) happens on the existing subscription, confirmed in Stripe's customer portal.
      const params: Stripe.BillingPortal.SessionCreateParams = { customer: current.stripeCustomerId, return_url: this.returnUrl('portal=return') };
      // An unpaid subscription is settled first (the portal shows the open invoice).
      if (current.priceId !== price && current.itemId && current.status !== 'unpaid') {
        params.flow_data = {
          type: 'subscription_update_confirm',
          subscription_update_confirm: { subscription: current.id, items: [{ id: current.itemId, price, quantity: 1 }] },
          after_completion: { type: 'redirect', redirect: { return_url: this.returnUrl('checkout=success') } },
        };
      }
      return viaStripe(this.options.logger, 'portal', () => gateway.createPortalSession(params));
    }
    const customer = await this.ensureCustomer(user);
    const session = await viaStripe(this.options.logger, 'checkout', () =>
      gateway.createCheckoutSession({
        mode: 'subscription',
        customer,
        client_reference_id: user.id,
        line_items: [{ price, quantity: 1 }],
        metadata: { user_id: user.id, kind: 'plan', plan_id: plan.id, interval },
        subscription_data: { metadata: { user_id: user.id, plan_id: plan.id, interval } },
        success_url: this.returnUrl('checkout=success&session_id={CHECKOUT_SESSION_ID}'),
        cancel_url: this.returnUrl('checkout=canceled'),
      }),
    );
    return { url: session.url };
  }

  async portal(user: BillingUser): Promise<{ url: string }> {
    if (user.isGuest) throw new AppError('unauthenticated', 'Create an account first.');
    const gateway = this.requireGateway();
    const stored = await this.options.prisma.billingCustomer.findUnique({ where: { userId: user.id }, select: { stripeCustomerId: true } });
    if (!stored) throw new AppError('not_found', 'There is nothing to manage yet: buy a plan or a credit pack first.');
    return viaStripe(this.options.logger, 'portal', () =>
      gateway.createPortalSession({ customer: stored.stripeCustomerId, return_url: this.returnUrl('portal=return') }),
    );
  }

  async simulate(user: BillingUser, input: TSimulateInput): Promise<SimulationResult> {
    if (!this.simulator) {
      throw new AppError(
        this.config.mode === 'off' ? 'billing_not_configured' : 'invalid_input',
        'The billing simulator is off (BILLING_SIMULATOR=1 without STRIPE_SECRET_KEY turns it on).',
      );
    }
    if (user.isGuest) throw new AppError('unauthenticated', 'Create an account first.');
    return this.simulator.simulate(user, input);
  }

  /** The pending test checkout behind a simulator URL, for the Billing tab to show what is being bought. */
  simulatedCheckout(user: BillingUser, sessionId: string) {
    const session = this.simulator?.describeSession(user.id, sessionId);
    if (!session) throw new AppError('not_found', 'That test checkout has expired or was already completed.');
    const plan = this.options.plans.find((p) => p.id === (this.config.planByPrice.get(session.priceId) ?? ''));
    const pack = this.config.packs.find((p) => this.config.packPrices.get(p.id) === session.priceId);
    return {
      kind: session.kind,
      description: plan
        ? `${plan.name} plan, ${this.config.priceIntervals.get(session.priceId) === 'year' ? 'yearly' : 'monthly'}`
        : pack
          ? `Credit pack: ${pack.name}`
          : 'Unknown item',
      amountCents: session.amountCents,
      planId: plan?.id ?? null,
      packId: pack?.id ?? null,
    };
  }

  /**
   * Re-evaluates a user's subscriptions when what they grant has changed since
   * it was last written (grace over, period ended while cancelling).
   */
  private async refreshIfDue(userId: string, subs: readonly SubscriptionRow[], now: Date): Promise<void> {
    const stale = subs.some((s) => (grantedPlan(s, now, this.config.graceDays) ?? 'free') !== s.effectivePlanId);
    if (stale) await this.options.prisma.$transaction((tx) => this.store.syncUser(tx, userId, now));
  }

  /**
   * The quota month: Stripe's current period for a paid subscriber, else the calendar month.
   * `known.subscribed === false` (the session lookup found no live subscription) needs no read.
   */
  async monthFor(userId: string, now: Date, known?: KnownSubscription): Promise<MonthPeriod> {
    if (known?.subscribed === false) return calendarMonth(now);
    const subs = await this.options.query<SubscriptionRow>(
      `SELECT ${SUBSCRIPTION_COLUMNS_SQL}
         FROM subscriptions WHERE user_id = $1::uuid AND status = ANY($2::text[])`,
      [userId, LIVE_STATUSES],
      { name: 'billing_month_for' },
    );
    if (subs.length === 0) return calendarMonth(now);
    await this.refreshIfDue(userId, subs, now);
    const best = bestGrant(subs, this.options.plans, now, this.config.graceDays);
    return best ? subscriptionMonth(best.sub, now) : calendarMonth(now);
  }

  async status(user: BillingUser, now = new Date()): Promise<TBillingStatus> {
    const prisma = this.options.prisma;
    const subs = await prisma.subscription.findMany({ where: { userId: user.id }, orderBy: { updatedAt: 'desc' }, select: SUBSCRIPTION_SELECT });
    await this.refreshIfDue(user.id, subs, now);
    const [row, credits, held, payments] = await Promise.all([
      prisma.user.findUnique({ where: { id: user.id }, select: { planId: true, isGuest: true, emailVerifiedAt: true } }),
      creditBalance(prisma, user.id),
      prisma.packDispute.aggregate({ where: { userId: user.id, status: 'open' }, _sum: { heldTokens: true, refundedFromHoldTokens: true } }),
      prisma.payment.findMany({
        where: { userId: user.id },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: 10,
        select: { id: true, createdAt: true, kind: true, description: true, amountMicroUsd: true, refundedMicroUsd: true, currency: true, status: true },
      }),
    ]);
    const shown = bestGrant(subs, this.options.plans, now, this.config.graceDays)?.sub ?? subs[0];
    return {
      mode: this.config.mode,
      plan: row ? this.options.planFor(row).id : 'free',
      subscription: shown
        ? {
            plan: shown.planId,
            status: shown.status,
            currentPeriodStart: shown.currentPeriodStart,
            currentPeriodEnd: shown.currentPeriodEnd,
            cancelAtPeriodEnd: shown.cancelAtPeriodEnd,
            graceEndsAt: graceEndsAt(shown, this.config.graceDays),
            interval: (shown.priceId ? this.config.priceIntervals.get(shown.priceId) : undefined) ?? null,
          }
        : null,
      credits: { tokens: Number(credits), heldTokens: Number((held._sum.heldTokens ?? 0n) - (held._sum.refundedFromHoldTokens ?? 0n)) },
      payments: payments.map((p) => ({
        id: p.id.toString(),
        createdAt: p.createdAt,
        kind: p.kind as 'subscription' | 'pack',
        description: p.description,
        amountMicroUsd: Number(p.amountMicroUsd),
        refundedMicroUsd: Number(p.refundedMicroUsd),
        currency: p.currency,
        status: p.status as TBillingStatus['payments'][number]['status'],
      })),
      purchasablePlans: this.config.mode === 'off' ? [] : [...this.config.planPrices.keys()],
      purchasableYearlyPlans: this.config.mode === 'off' ? [] : [...this.config.planYearlyPrices.keys()],
    };
  }

  /**
   * Moves users whose grace period is over (or whose cancelled subscription's
   * period ended without the deletion event arriving yet) to what they are
   * entitled to now. Returns how many users' plans changed.
   */
  async sweep(now = new Date()): Promise<number> {
    const rows = await this.options.prisma.subscription.findMany({
      // Only these change what they grant with time alone; everything else changes by an event.
      where: { OR: [{ status: 'past_due' }, { cancelAtPeriodEnd: true, status: { in: ['active', 'trialing'] } }] },
      select: SUBSCRIPTION_SELECT,
    });
    const due = new Set<string>();
    for (const sub of rows) {
      if ((grantedPlan(sub, now, this.config.graceDays) ?? 'free') !== sub.effectivePlanId) due.add(sub.userId);
    }
    let changed = 0;
    for (const userId of due) {
      const result = await this.options.prisma.$transaction((tx) => this.store.syncUser(tx, userId, now));
      if (result.changed) changed++;
    }
    if (changed > 0) this.options.logger.info({ users: changed }, 'billing sweep: plans changed (grace over or period ended)');
    return changed;
  }

  /** Runs sweep() every `intervalMs`; returns a stop function. */
  startSweeper(intervalMs = 60_000): () => void {
    const timer = setInterval(() => {
      this.sweep().catch((error: Error) => this.options.logger.warn({ err: error.message }, 'billing sweep failed'));
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
