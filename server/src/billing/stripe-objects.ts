// Builders of objects shaped like Stripe's own (API version of the installed SDK),
// for the offline simulator and the tests' fake Stripe. Only fields ChatMeter or a
// reader of the payload could care about are filled; everything else Stripe sends
// is absent, so the handler must not depend on it either.
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Stripe-looking ids: `sub_1Q...` (24 random alphanumerics after the prefix). */
export function stripeId(prefix: string, length = 24): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte % ALPHABET.length];
  return `${prefix}_${out}`;
}

export const unixNow = (): number => Math.floor(Date.now() / 1000);

/** The same day next month (clamped to the month's last day), like Stripe's monthly cycle. */
export function addMonth(unix: number): number {
  const d = new Date(unix * 1000);
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), lastDay));
  return Math.floor(target.getTime() / 1000);
}

/** The same day next year (29 February -> 28 February), like Stripe's yearly cycle. */
export function addYear(unix: number): number {
  const d = new Date(unix * 1000);
  const lastDay = new Date(Date.UTC(d.getUTCFullYear() + 1, d.getUTCMonth() + 1, 0)).getUTCDate();
  return Math.floor(
    Date.UTC(d.getUTCFullYear() + 1, d.getUTCMonth(), Math.min(d.getUTCDate(), lastDay), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()) / 1000,
  );
}

/** The end of a billing period of `interval` starting at `unix`. */
export function periodEnd(unix: number, interval: 'month' | 'year'): number {
  return interval === 'year' ? addYear(unix) : addMonth(unix);
}

export function customerObject(p: { id?: string; email?: string | null; metadata?: Record<string, string>; created?: number }): Stripe.Customer {
  return {
    id: p.id ?? stripeId('cus', 14),
    object: 'customer',
    address: null,
    balance: 0,
    created: p.created ?? unixNow(),
    currency: null,
    default_source: null,
    delinquent: false,
    description: null,
    email: p.email ?? null,
    invoice_prefix: randomBytes(4).toString('hex').toUpperCase(),
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: false,
    metadata: p.metadata ?? {},
    name: null,
    phone: null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  } as unknown as Stripe.Customer;
}

export function priceObject(p: { id: string; unitAmount: number; recurring: boolean; interval?: 'month' | 'year'; created?: number }): Stripe.Price {
  return {
    id: p.id,
    object: 'price',
    active: true,
    billing_scheme: 'per_unit',
    created: p.created ?? unixNow(),
    currency: 'usd',
    livemode: false,
    lookup_key: null,
    metadata: {},
    nickname: null,
    product: `prod_${p.id.replace(/^price_/, '').slice(0, 14)}`,
    recurring: p.recurring ? { interval: p.interval ?? 'month', interval_count: 1, meter: null, trial_period_days: null, usage_type: 'licensed' } : null,
    tax_behavior: 'unspecified',
    tiers_mode: null,
    transform_quantity: null,
    type: p.recurring ? 'recurring' : 'one_time',
    unit_amount: p.unitAmount,
    unit_amount_decimal: String(p.unitAmount),
  } as unknown as Stripe.Price;
}

export interface SubscriptionSpec {
  id?: string;
  customer: string;
  priceId: string;
  unitAmount: number;
  /** How the price bills (default month). */
  interval?: 'month' | 'year';
  status: Stripe.Subscription.Status;
  periodStart: number;
  periodEnd: number;
  cancelAtPeriodEnd?: boolean;
  canceledAt?: number | null;
  endedAt?: number | null;
  metadata?: Record<string, string>;
  created?: number;
  itemId?: string;
  latestInvoice?: string | null;
}

/** Since API 2025-03-31 the billing period lives on the subscription items, not the subscription. */
export function subscriptionObject(s: SubscriptionSpec): Stripe.Subscription {
  const id = s.id ?? stripeId('sub');
  const created = s.created ?? s.periodStart;
  const price = priceObject({ id: s.priceId, unitAmount: s.unitAmount, recurring: true, interval: s.interval ?? 'month', created });
  return {
    id,
    object: 'subscription',
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: s.periodStart,
    billing_cycle_anchor_config: null,
    billing_mode: { type: 'flexible' },
    billing_thresholds: null,
    cancel_at: s.cancelAtPeriodEnd ? s.periodEnd : null,
    cancel_at_period_end: s.cancelAtPeriodEnd ?? false,
    canceled_at: s.canceledAt ?? null,
    cancellation_details: { comment: null, feedback: null, reason: s.canceledAt ? 'cancellation_requested' : null },
    collection_method: 'charge_automatically',
    created,
    currency: 'usd',
    customer: s.customer,
    customer_account: null,
    days_until_due: null,
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    ended_at: s.endedAt ?? null,
    invoice_settings: { account_tax_ids: null, issuer: { type: 'self' } },
    items: {
      object: 'list',
      data: [
        {
          id: s.itemId ?? stripeId('si', 14),
          object: 'subscription_item',
          billing_thresholds: null,
          created,
          current_period_end: s.periodEnd,
          current_period_start: s.periodStart,
          discounts: [],
          metadata: {},
          price,
          quantity: 1,
          subscription: id,
          tax_rates: [],
        },
      ],
      has_more: false,
      url: `/v1/subscription_items?subscription=${id}`,
    },
    latest_invoice: s.latestInvoice ?? null,
    livemode: false,
    metadata: s.metadata ?? {},
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: 'off' },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: created,
    status: s.status,
    test_clock: null,
    transfer_data: null,
    trial_end: null,
    trial_settings: { end_behavior: { missing_payment_method: 'create_invoice' } },
    trial_start: null,
  } as unknown as Stripe.Subscription;
}

export interface CheckoutSessionSpec {
  id?: string;
  mode: 'subscription' | 'payment';
  customer: string;
  clientReferenceId: string | null;
  metadata: Record<string, string>;
  amountTotal: number | null;
  status: 'open' | 'complete' | 'expired';
  paymentStatus: 'paid' | 'unpaid' | 'no_payment_required';
  subscription?: string | null;
  paymentIntent?: string | null;
  invoice?: string | null;
  successUrl: string | null;
  cancelUrl: string | null;
  url?: string | null;
  created?: number;
  customerEmail?: string | null;
}

export function checkoutSessionObject(s: CheckoutSessionSpec): Stripe.Checkout.Session {
  const id = s.id ?? stripeId('cs_test', 58);
  const created = s.created ?? unixNow();
  return {
    id,
    object: 'checkout.session',
    adaptive_pricing: null,
    after_expiration: null,
    allow_promotion_codes: null,
    amount_subtotal: s.amountTotal,
    amount_total: s.amountTotal,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: null,
    cancel_url: s.cancelUrl,
    client_reference_id: s.clientReferenceId,
    client_secret: null,
    collected_information: null,
    consent: null,
    consent_collection: null,
    created,
    currency: 'usd',
    currency_conversion: null,
    custom_fields: [],
    custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    customer: s.customer,
    customer_account: null,
    customer_creation: null,
    customer_details:
      s.status === 'complete' ? { address: null, email: s.customerEmail ?? null, name: null, phone: null, tax_exempt: 'none', tax_ids: [] } : null,
    customer_email: null,
    discounts: [],
    expires_at: created + 24 * 3600,
    integration_identifier: null,
    invoice: s.invoice ?? null,
    invoice_creation: null,
    livemode: false,
    locale: null,
    managed_payments: null,
    metadata: s.metadata,
    mode: s.mode,
    origin_context: null,
    payment_intent: s.paymentIntent ?? null,
    payment_link: null,
    payment_method_collection: s.mode === 'subscription' ? 'always' : null,
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_method_types: ['card'],
    payment_status: s.paymentStatus,
    permissions: null,
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: s.status,
    submit_type: null,
    subscription: s.subscription ?? null,
    success_url: s.successUrl,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: 'hosted',
    url: s.status === 'open' ? (s.url ?? `https://checkout.stripe.com/c/pay/${id}`) : null,
    wallet_options: null,
  } as unknown as Stripe.Checkout.Session;
}

export function portalSessionObject(p: { customer: string; returnUrl: string | null; url?: string; flow?: unknown }): Stripe.BillingPortal.Session {
  const id = stripeId('bps');
  return {
    id,
    object: 'billing_portal.session',
    configuration: stripeId('bpc'),
    created: unixNow(),
    customer: p.customer,
    customer_account: null,
    flow: p.flow ?? null,
    livemode: false,
    locale: null,
    on_behalf_of: null,
    return_url: p.returnUrl,
    url: p.url ?? `https://billing.stripe.com/p/session/test_${id.slice(4)}`,
  } as unknown as Stripe.BillingPortal.Session;
}

export interface InvoiceSpec {
  id?: string;
  customer: string;
  subscription: string;
  subscriptionMetadata?: Record<string, string>;
  priceId: string;
  amount: number;
  status: 'paid' | 'open';
  billingReason: 'subscription_create' | 'subscription_cycle' | 'subscription_update';
  periodStart: number;
  periodEnd: number;
  attemptCount?: number;
  created?: number;
}

/** A subscription invoice: the line carries the service period it pays for. */
export function invoiceObject(s: InvoiceSpec): Stripe.Invoice {
  const id = s.id ?? stripeId('in');
  const created = s.created ?? unixNow();
  const paid = s.status === 'paid';
  return {
    id,
    object: 'invoice',
    account_country: 'US',
    account_name: 'ChatMeter',
    amount_due: s.amount,
    amount_overpaid: 0,
    amount_paid: paid ? s.amount : 0,
    amount_remaining: paid ? 0 : s.amount,
    amount_shipping: 0,
    attempt_count: s.attemptCount ?? 1,
    attempted: true,
    auto_advance: !paid,
    billing_reason: s.billingReason,
    collection_method: 'charge_automatically',
    created,
    currency: 'usd',
    customer: s.customer,
    customer_email: null,
    description: null,
    due_date: null,
    hosted_invoice_url: `https://invoice.stripe.com/i/test_${id.slice(3)}`,
    invoice_pdf: `https://pay.stripe.com/invoice/test_${id.slice(3)}/pdf`,
    lines: {
      object: 'list',
      data: [
        {
          id: stripeId('il'),
          object: 'line_item',
          amount: s.amount,
          currency: 'usd',
          description: '1 × subscription',
          livemode: false,
          metadata: {},
          parent: { type: 'subscription_item_details', subscription_item_details: { subscription: s.subscription, proration: false } },
          period: { start: s.periodStart, end: s.periodEnd },
          pricing: {
            type: 'price_details',
            price_details: { price: s.priceId, product: `prod_${s.priceId.slice(6, 20)}` },
            unit_amount_decimal: String(s.amount),
          },
          quantity: 1,
        },
      ],
      has_more: false,
      url: `/v1/invoices/${id}/lines`,
    },
    livemode: false,
    metadata: {},
    next_payment_attempt: paid ? null : created + 3 * 24 * 3600,
    number: `${randomBytes(4).toString('hex').toUpperCase()}-0001`,
    parent: {
      type: 'subscription_details',
      quote_details: null,
      subscription_details: { metadata: s.subscriptionMetadata ?? {}, subscription: s.subscription },
    },
    period_end: s.periodStart,
    period_start: s.periodStart,
    status: s.status,
    status_transitions: { finalized_at: created, marked_uncollectible_at: null, paid_at: paid ? created : null, voided_at: null },
    subtotal: s.amount,
    total: s.amount,
    webhooks_delivered_at: null,
  } as unknown as Stripe.Invoice;
}

export function chargeObject(p: {
  id?: string;
  customer: string;
  paymentIntent: string;
  amount: number;
  amountRefunded: number;
  metadata?: Record<string, string>;
  created?: number;
}): Stripe.Charge {
  const id = p.id ?? stripeId('ch');
  return {
    id,
    object: 'charge',
    amount: p.amount,
    amount_captured: p.amount,
    amount_refunded: p.amountRefunded,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: stripeId('txn'),
    billing_details: { address: null, email: null, name: null, phone: null, tax_id: null },
    calculated_statement_descriptor: 'CHATMETER',
    captured: true,
    created: p.created ?? unixNow(),
    currency: 'usd',
    customer: p.customer,
    description: null,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: null,
    failure_message: null,
    fraud_details: {},
    livemode: false,
    metadata: p.metadata ?? {},
    on_behalf_of: null,
    outcome: { network_status: 'approved_by_network', reason: null, risk_level: 'normal', seller_message: 'Payment complete.', type: 'authorized' },
    paid: true,
    payment_intent: p.paymentIntent,
    payment_method: stripeId('pm'),
    payment_method_details: null,
    receipt_email: null,
    receipt_number: null,
    receipt_url: null,
    refunded: p.amountRefunded >= p.amount,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: 'succeeded',
    transfer_data: null,
    transfer_group: null,
  } as unknown as Stripe.Charge;
}

/** A snapshot event as Stripe delivers it to a webhook endpoint. */
export function eventObject(
  type: string,
  object: { id: string; object: string },
  p: { id?: string; created?: number; previousAttributes?: Record<string, unknown> } = {},
): Stripe.Event {
  return {
    id: p.id ?? stripeId('evt'),
    object: 'event',
    api_version: Stripe.API_VERSION,
    created: p.created ?? unixNow(),
    data: { object, ...(p.previousAttributes ? { previous_attributes: p.previousAttributes } : {}) },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  } as unknown as Stripe.Event;
}
