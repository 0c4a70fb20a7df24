// The few Stripe API calls billing makes, behind one interface: the real SDK
// (pointed at STRIPE_API_HOST/PORT/PROTOCOL when set, e.g. a local fake in
// tests) or the offline simulator.
import Stripe from 'stripe';
import type { ServerEnv } from '../env.ts';

export interface BillingGateway {
  readonly mode: 'stripe' | 'simulator';
  /**
   * Idempotent per user (and per replaced customer): the key makes a retried or
   * concurrent create return the same customer.
   */
  createCustomer(params: { userId: string; email: string | null; replaces?: string }): Promise<string>;
  /** False when the customer was deleted in Stripe (or never existed). */
  customerExists(customerId: string): Promise<boolean>;
  createCheckoutSession(params: Stripe.Checkout.SessionCreateParams): Promise<{ id: string; url: string }>;
  createPortalSession(params: Stripe.BillingPortal.SessionCreateParams): Promise<{ url: string }>;
  retrieveSubscription(id: string): Promise<Stripe.Subscription>;
}

export function createStripeClient(env: ServerEnv): Stripe {
  if (!env.STRIPE_SECRET_KEY) throw new Error('createStripeClient needs STRIPE_SECRET_KEY');
  return new Stripe(env.STRIPE_SECRET_KEY, {
    ...(env.STRIPE_API_HOST ? { host: env.STRIPE_API_HOST } : {}),
    ...(env.STRIPE_API_PORT ? { port: env.STRIPE_API_PORT } : {}),
    ...(env.STRIPE_API_PROTOCOL ? { protocol: env.STRIPE_API_PROTOCOL } : {}),
    maxNetworkRetries: 2,
    timeout: 20_000,
    telemetry: false,
    appInfo: { name: 'ChatMeter', url: 'https://github.com/chatmeter' },
  });
}

function isMissing(error: unknown): boolean {
  return error instanceof Stripe.errors.StripeInvalidRequestError && (error.statusCode === 404 || error.code === 'resource_missing');
}

export class StripeGateway implements BillingGateway {
  readonly mode = 'stripe' as const;

  constructor(private readonly stripe: Stripe) {}

  async createCustomer(params: { userId: string; email: string | null; replaces?: string }): Promise<string> {
    const customer = await this.stripe.customers.create(
      { ...(params.email ? { email: params.email } : {}), metadata: { user_id: params.userId } },
      { idempotencyKey: params.replaces ? `chatmeter-customer-${params.userId}-after-${params.replaces}` : `chatmeter-customer-${params.userId}` },
    );
    return customer.id;
  }

  async customerExists(customerId: string): Promise<boolean> {
    try {
      const customer = await this.stripe.customers.retrieve(customerId);
      return !('deleted' in customer && customer.deleted);
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  async createCheckoutSession(params: Stripe.Checkout.SessionCreateParams): Promise<{ id: string; url: string }> {
    const session = await this.stripe.checkout.sessions.create(params);
    if (!session.url) throw new Error(`Stripe returned checkout session ${session.id} without a url`);
    return { id: session.id, url: session.url };
  }

  async createPortalSession(params: Stripe.BillingPortal.SessionCreateParams): Promise<{ url: string }> {
    const session = await this.stripe.billingPortal.sessions.create(params);
    return { url: session.url };
  }

  retrieveSubscription(id: string): Promise<Stripe.Subscription> {
    return this.stripe.subscriptions.retrieve(id);
  }
}
