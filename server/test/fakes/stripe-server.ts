/**
 * A real HTTP server on 127.0.0.1 that answers the Stripe API endpoints ChatMeter
 * calls, in Stripe's wire format (form-encoded requests with bracket notation,
 * JSON objects and error bodies in responses), for the real `stripe` SDK to talk
 * to in tests (STRIPE_API_HOST / STRIPE_API_PORT / STRIPE_API_PROTOCOL=http).
 *
 * Endpoints: POST /v1/customers, GET /v1/customers/:id, POST /v1/checkout/sessions,
 * POST /v1/billing_portal/sessions, GET /v1/subscriptions/:id. Subscriptions live in
 * state that tests mutate (`putSubscription`, `updateSubscription`), and helpers
 * build the events Stripe would send for them, signed with the webhook secret by
 * `stripe.webhooks.generateTestHeaderString`.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import {
  chargeObject,
  checkoutSessionObject,
  customerObject,
  eventObject,
  invoiceObject,
  periodEnd,
  portalSessionObject,
  stripeId,
  subscriptionObject,
  unixNow,
  type SubscriptionSpec,
} from '../../src/billing/stripe-objects.ts';

export interface StripeRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The form body decoded into nested objects and arrays, as Stripe reads it. */
  body: Record<string, any>;
}

type Params = Record<string, any>;

/** Decodes `a[b][0][c]=v&...` into `{ a: { b: [{ c: 'v' }] } }` (what Stripe's API accepts). */
export function parseStripeForm(text: string): Params {
  const root: Params = {};
  for (const pair of text.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const rawKey = decodeURIComponent((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
    const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
    const path = rawKey.match(/[^[\]]+/g) ?? [];
    let node: Params = root;
    for (const [i, segment] of path.entries()) {
      if (i === path.length - 1) node[segment] = value;
      else node = node[segment] ??= {};
    }
  }
  const arrays = (value: unknown): unknown => {
    if (!value || typeof value !== 'object') return value;
    const obj = value as Params;
    const keys = Object.keys(obj);
    for (const k of keys) obj[k] = arrays(obj[k]);
    return keys.length > 0 && keys.every((k) => /^\d+$/.test(k)) ? keys.sort((a, b) => Number(a) - Number(b)).map((k) => obj[k]) : obj;
  };
  return arrays(root) as Params;
}

export interface StripeFakeOptions {
  secretKey: string;
  webhookSecret: string;
  /** Unit amount (cents) of each price id, for the subscriptions and invoices it builds. */
  prices: Record<string, number>;
  /** Prices billed yearly (the others are monthly). */
  yearlyPrices?: string[];
}

export class StripeFake {
  readonly requests: StripeRequest[] = [];
  readonly customers = new Map<string, Stripe.Customer>();
  readonly deletedCustomers = new Set<string>();
  readonly sessions = new Map<string, { session: Stripe.Checkout.Session; params: Params }>();
  readonly subscriptions = new Map<string, Stripe.Subscription>();
  private readonly idempotent = new Map<string, string>();
  private failures: { pattern: RegExp; status: number; remaining: number }[] = [];
  private server = createServer((req, res) => void this.route(req, res));
  port = 0;

  constructor(readonly options: StripeFakeOptions) {}

  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => this.server.once('listening', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The env that points the server's stripe SDK here. */
  env(prices: Record<string, string>): Record<string, string> {
    return {
      STRIPE_SECRET_KEY: this.options.secretKey,
      STRIPE_WEBHOOK_SECRET: this.options.webhookSecret,
      STRIPE_API_HOST: '127.0.0.1',
      STRIPE_API_PORT: String(this.port),
      STRIPE_API_PROTOCOL: 'http',
      ...prices,
    };
  }

  /** The next `count` requests whose "METHOD /path" matches answer `status` with a Stripe api_error. */
  failNext(pattern: RegExp, count: number, status = 500): void {
    this.failures.push({ pattern, status, remaining: count });
  }

  clearFailures(): void {
    this.failures = [];
  }

  requestsTo(method: string, pathPrefix: string): StripeRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(pathPrefix));
  }

  // ---- State the tests drive ----

  intervalOf(priceId: string): 'month' | 'year' {
    return this.options.yearlyPrices?.includes(priceId) ? 'year' : 'month';
  }

  putSubscription(spec: Omit<SubscriptionSpec, 'unitAmount'> & { unitAmount?: number }): Stripe.Subscription {
    const sub = subscriptionObject({ interval: this.intervalOf(spec.priceId), ...spec, unitAmount: spec.unitAmount ?? this.options.prices[spec.priceId] ?? 0 });
    this.subscriptions.set(sub.id, sub);
    return sub;
  }

  /** Changes a stored subscription the way Stripe would (a new object, same ids). */
  updateSubscription(
    id: string,
    change: Partial<{
      priceId: string;
      status: Stripe.Subscription.Status;
      periodStart: number;
      periodEnd: number;
      cancelAtPeriodEnd: boolean;
      canceledAt: number | null;
      endedAt: number | null;
    }>,
  ): Stripe.Subscription {
    const current = this.subscriptions.get(id);
    if (!current) throw new Error(`fake stripe: no subscription ${id}`);
    const item = current.items.data[0]!;
    const priceId = change.priceId ?? item.price.id;
    return this.putSubscription({
      id,
      customer: String(current.customer),
      priceId,
      status: change.status ?? current.status,
      periodStart: change.periodStart ?? item.current_period_start,
      periodEnd: change.periodEnd ?? item.current_period_end,
      cancelAtPeriodEnd: change.cancelAtPeriodEnd ?? current.cancel_at_period_end,
      canceledAt: change.canceledAt !== undefined ? change.canceledAt : current.canceled_at,
      endedAt: change.endedAt !== undefined ? change.endedAt : current.ended_at,
      metadata: current.metadata as Record<string, string>,
      created: current.created,
      itemId: item.id,
    });
  }

  /**
   * What Stripe does when the customer pays a Checkout Session created through this
   * fake: for a subscription, the subscription (stored) and the events
   * checkout.session.completed, customer.subscription.created and invoice.paid; for a
   * payment, checkout.session.completed with a payment intent.
   */
  completeCheckout(sessionId: string, at = unixNow()): { events: Stripe.Event[]; subscription?: Stripe.Subscription; paymentIntent?: string } {
    const stored = this.sessions.get(sessionId);
    if (!stored) throw new Error(`fake stripe: no checkout session ${sessionId}`);
    const { session, params } = stored;
    const priceId = String(params.line_items?.[0]?.price);
    const amount = this.options.prices[priceId] ?? 0;
    const common = {
      id: session.id,
      customer: String(session.customer),
      clientReferenceId: session.client_reference_id,
      metadata: (session.metadata ?? {}) as Record<string, string>,
      amountTotal: amount,
      status: 'complete' as const,
      paymentStatus: 'paid' as const,
      successUrl: session.success_url,
      cancelUrl: session.cancel_url,
      created: at,
    };
    if (session.mode === 'subscription') {
      const sub = this.putSubscription({
        customer: String(session.customer),
        priceId,
        status: 'active',
        periodStart: at,
        periodEnd: periodEnd(at, this.intervalOf(priceId)),
        metadata: (params.subscription_data?.metadata ?? {}) as Record<string, string>,
        created: at,
      });
      const invoice = this.invoiceFor(sub.id, { status: 'paid', billingReason: 'subscription_create', at });
      const completed = checkoutSessionObject({ ...common, mode: 'subscription', subscription: sub.id, invoice: invoice.id });
      return {
        subscription: sub,
        events: [
          eventObject('checkout.session.completed', completed, { created: at }),
          eventObject('customer.subscription.created', sub, { created: at }),
          eventObject('invoice.paid', invoice, { created: at }),
        ],
      };
    }
    const paymentIntent = stripeId('pi');
    const completed = checkoutSessionObject({ ...common, mode: 'payment', paymentIntent });
    return { paymentIntent, events: [eventObject('checkout.session.completed', completed, { created: at })] };
  }

  invoiceFor(subscriptionId: string, p: { status: 'paid' | 'open'; billingReason: 'subscription_create' | 'subscription_cycle'; at?: number }): Stripe.Invoice {
    const sub = this.subscriptions.get(subscriptionId);
    if (!sub) throw new Error(`fake stripe: no subscription ${subscriptionId}`);
    const item = sub.items.data[0]!;
    return invoiceObject({
      customer: String(sub.customer),
      subscription: sub.id,
      subscriptionMetadata: sub.metadata as Record<string, string>,
      priceId: item.price.id,
      amount: item.price.unit_amount ?? 0,
      status: p.status,
      billingReason: p.billingReason,
      periodStart: item.current_period_start,
      periodEnd: item.current_period_end,
      ...(p.at ? { created: p.at } : {}),
    });
  }

  refundEvent(p: { paymentIntent: string; customer: string; amount: number; amountRefunded: number; packId?: string; at?: number }): Stripe.Event {
    const charge = chargeObject({
      customer: p.customer,
      paymentIntent: p.paymentIntent,
      amount: p.amount,
      amountRefunded: p.amountRefunded,
      ...(p.packId ? { metadata: { pack_id: p.packId } } : {}),
    });
    return eventObject('charge.refunded', charge, p.at ? { created: p.at } : {});
  }

  /** The body and Stripe-Signature header of a delivery (timestamp in seconds, default now). */
  sign(event: Stripe.Event, options: { timestamp?: number; secret?: string } = {}): { body: string; signature: string } {
    const body = JSON.stringify(event, null, 2);
    const signature = Stripe.webhooks.generateTestHeaderString({
      payload: body,
      secret: options.secret ?? this.options.webhookSecret,
      ...(options.timestamp !== undefined ? { timestamp: options.timestamp } : {}),
    });
    return { body, signature };
  }

  // ---- HTTP ----

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': stripeId('req', 14), 'stripe-version': Stripe.API_VERSION });
    res.end(JSON.stringify(body));
  }

  private error(res: ServerResponse, status: number, type: string, message: string, extra: Params = {}): void {
    this.send(res, status, { error: { type, message, ...extra } });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake');
    const text = Buffer.concat(chunks).toString('utf8');
    const body = req.method === 'GET' ? parseStripeForm(url.search.slice(1)) : parseStripeForm(text);
    const request: StripeRequest = { method: req.method ?? 'GET', path: url.pathname, headers: req.headers, body };
    this.requests.push(request);

    if (req.headers.authorization !== `Bearer ${this.options.secretKey}`) {
      return this.error(res, 401, 'invalid_request_error', 'Invalid API Key provided.');
    }
    const failure = this.failures.find((f) => f.remaining > 0 && f.pattern.test(`${request.method} ${request.path}`));
    if (failure) {
      failure.remaining--;
      return this.error(res, failure.status, 'api_error', 'Simulated Stripe failure.');
    }

    const key = `${request.method} ${request.path}`;
    let match: RegExpMatchArray | null;
    if (key === 'POST /v1/customers') {
      const idempotencyKey = req.headers['idempotency-key'];
      const known = typeof idempotencyKey === 'string' ? this.idempotent.get(idempotencyKey) : undefined;
      if (known) return this.send(res, 200, this.customers.get(known));
      const customer = customerObject({ email: body.email ?? null, metadata: body.metadata ?? {} });
      this.customers.set(customer.id, customer);
      if (typeof idempotencyKey === 'string') this.idempotent.set(idempotencyKey, customer.id);
      return this.send(res, 200, customer);
    }
    if (request.method === 'GET' && (match = request.path.match(/^\/v1\/customers\/([^/]+)$/))) {
      const customer = this.customers.get(match[1]!);
      if (!customer) return this.error(res, 404, 'invalid_request_error', `No such customer: '${match[1]}'`, { code: 'resource_missing', param: 'id' });
      return this.send(res, 200, this.deletedCustomers.has(customer.id) ? { id: customer.id, object: 'customer', deleted: true } : customer);
    }
    if (key === 'POST /v1/checkout/sessions') {
      if (!body.line_items?.[0]?.price || !body.success_url || !['payment', 'subscription'].includes(body.mode)) {
        return this.error(res, 400, 'invalid_request_error', 'Missing required param: line_items, mode or success_url.', { param: 'line_items' });
      }
      if (body.customer && !this.customers.has(body.customer)) {
        return this.error(res, 400, 'invalid_request_error', `No such customer: '${body.customer}'`, { code: 'resource_missing', param: 'customer' });
      }
      const session = checkoutSessionObject({
        mode: body.mode,
        customer: body.customer,
        clientReferenceId: body.client_reference_id ?? null,
        metadata: body.metadata ?? {},
        amountTotal: this.options.prices[body.line_items[0].price] ?? null,
        status: 'open',
        paymentStatus: 'unpaid',
        successUrl: body.success_url,
        cancelUrl: body.cancel_url ?? null,
      });
      this.sessions.set(session.id, { session, params: body });
      return this.send(res, 200, session);
    }
    if (key === 'POST /v1/billing_portal/sessions') {
      if (!body.customer || !this.customers.has(body.customer)) {
        return this.error(res, 400, 'invalid_request_error', `No such customer: '${body.customer}'`, { code: 'resource_missing', param: 'customer' });
      }
      const flow = body.flow_data ? { ...body.flow_data } : null;
      return this.send(res, 200, portalSessionObject({ customer: body.customer, returnUrl: body.return_url ?? null, flow }));
    }
    if (request.method === 'GET' && (match = request.path.match(/^\/v1\/subscriptions\/([^/]+)$/))) {
      const sub = this.subscriptions.get(match[1]!);
      if (!sub) return this.error(res, 404, 'invalid_request_error', `No such subscription: '${match[1]}'`, { code: 'resource_missing', param: 'id' });
      return this.send(res, 200, sub);
    }
    return this.error(res, 404, 'invalid_request_error', `Unrecognized request URL (${request.method}: ${request.path}).`);
  }
}

export async function startStripeFake(options: Partial<StripeFakeOptions> = {}): Promise<StripeFake> {
  return new StripeFake({
    secretKey: options.secretKey ?? 'sk_test_chatmeter_fake',
    webhookSecret: options.webhookSecret ?? 'whsec_test_chatmeter_fake',
    prices: options.prices ?? {},
    ...(options.yearlyPrices ? { yearlyPrices: options.yearlyPrices } : {}),
  }).start();
}
