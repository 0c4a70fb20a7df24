// What ChatMeter reads from Stripe's objects, checked before anything is written.
// A signed event is Stripe's word, but its object may still be one the handler
// cannot use (a field missing, null, or of another type: `items: null` on a
// subscription, a non-numeric amount on a charge). Such an event can never
// apply, so it is refused as a whole with PermanentEventError (200 `rejected`,
// recorded): nothing half-read is ever stored, and Stripe does not retry it.
// Fields ChatMeter does not read are not checked; a field it reads is checked
// even where Stripe's schema says it is always there.
import { z } from 'zod';
import { PermanentEventError } from './event-errors.ts';

/** Stripe ids (`sub_1Q...`, `cs_test_...`): what may be stored or looked up as one. */
const ZStripeId = z.string().regex(/^[A-Za-z0-9_]{3,255}$/, 'not a Stripe id');
/** A reference that Stripe may also send expanded (`"cus_..."` or `{ id: "cus_...", ... }`). */
const ZRef = z.union([ZStripeId, z.object({ id: ZStripeId }).loose()]).transform((ref) => (typeof ref === 'string' ? ref : ref.id));
/** Unix seconds after 2001 and before 2100. */
const ZUnix = z.number().int().min(1_000_000_000).max(4_102_444_800);
/** Integer cents, at most 10^11 (a billion dollars): Stripe's largest amount is far below. */
const ZCents = z.number().int().min(0).max(100_000_000_000);
/** Stripe metadata: string values only. */
const ZMetadata = z.record(z.string(), z.string());
/** Status-like words: `active`, `past_due`, `warning_needs_response`... */
const ZWord = z.string().regex(/^[a-z][a-z_]{0,63}$/, 'not a status word');
const ZCurrency = z
  .string()
  .regex(/^[a-zA-Z]{3}$/, 'not a currency code')
  .transform((c) => c.toLowerCase());

const opt = <T extends z.ZodType>(schema: T) =>
  schema
    .nullable()
    .optional()
    .transform((v) => v ?? null);

const ZSubscriptionItem = z
  .object({
    id: ZStripeId,
    price: z.object({ id: ZStripeId }).loose(),
    current_period_start: ZUnix.optional(),
    current_period_end: ZUnix.optional(),
  })
  .loose();

const ZSubscriptionObject = z
  .object({
    object: z.literal('subscription'),
    id: z.string().regex(/^sub_[A-Za-z0-9_]{1,251}$/, 'not a subscription id'),
    customer: ZRef,
    status: ZWord,
    items: z.object({ data: z.array(ZSubscriptionItem).min(1, 'a subscription without items') }).loose(),
    cancel_at_period_end: z.boolean().optional(),
    cancel_at: opt(ZUnix),
    canceled_at: opt(ZUnix),
    // Before API 2025-03-31 the period was on the subscription itself.
    current_period_start: ZUnix.optional(),
    current_period_end: ZUnix.optional(),
    metadata: opt(ZMetadata),
  })
  .loose();

export interface ParsedSubscription {
  id: string;
  customerId: string;
  itemId: string;
  priceId: string;
  status: string;
  periodStart: Date;
  periodEnd: Date;
  cancelAtPeriodEnd: boolean;
  canceledAt: Date | null;
  metadataUserId: string | null;
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'object'}: ${issue.message}`)
    .join('; ');
}

function read<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new PermanentEventError(`the ${what} cannot be read (${describe(parsed.error)})`);
  return parsed.data;
}

/**
 * A subscription, completely: id, customer, status, the first item's price and the
 * current period (on the item since API 2025-03-31, on the subscription before).
 * Anything less is refused: storing a status without a plan or a period would
 * overwrite what Stripe said before with nothing.
 */
export function parseSubscription(value: unknown): ParsedSubscription {
  const sub = read(ZSubscriptionObject, value, 'subscription');
  const item = sub.items.data[0]!;
  const start = item.current_period_start ?? sub.current_period_start;
  const end = item.current_period_end ?? sub.current_period_end;
  if (start === undefined || end === undefined) throw new PermanentEventError(`the subscription cannot be read (subscription ${sub.id} has no current period)`);
  if (end <= start) throw new PermanentEventError(`the subscription cannot be read (subscription ${sub.id}'s period ends before it starts)`);
  return {
    id: sub.id,
    customerId: sub.customer,
    itemId: item.id,
    priceId: item.price.id,
    status: sub.status,
    periodStart: new Date(start * 1000),
    periodEnd: new Date(end * 1000),
    // Newer API versions may express "cancel at period end" as cancel_at = period end.
    cancelAtPeriodEnd: sub.cancel_at_period_end === true || (sub.cancel_at !== null && sub.cancel_at === end && sub.status !== 'canceled'),
    canceledAt: sub.canceled_at !== null ? new Date(sub.canceled_at * 1000) : null,
    metadataUserId: sub.metadata?.user_id ?? null,
  };
}

const ZCheckoutSession = z
  .object({
    object: z.literal('checkout.session'),
    id: ZStripeId,
    mode: ZWord,
    customer: opt(ZRef),
    client_reference_id: opt(z.string().max(200)),
    metadata: opt(ZMetadata),
    subscription: opt(ZRef),
    payment_status: ZWord,
    payment_intent: opt(ZRef),
    amount_total: opt(ZCents),
    currency: opt(ZCurrency),
  })
  .loose();
export type CheckoutSessionPayload = z.output<typeof ZCheckoutSession>;

const ZInvoice = z
  .object({
    object: z.literal('invoice'),
    id: ZStripeId,
    customer: opt(ZRef),
    // API 2025-03-31+: parent.subscription_details.subscription; before: invoice.subscription.
    parent: opt(z.object({ subscription_details: opt(z.object({ subscription: opt(ZRef) }).loose()) }).loose()),
    subscription: opt(ZRef),
    billing_reason: opt(ZWord),
    amount_paid: ZCents,
    amount_due: ZCents,
    currency: ZCurrency,
  })
  .loose()
  .transform(({ parent, subscription, ...rest }) => ({ ...rest, subscriptionId: parent?.subscription_details?.subscription ?? subscription }));
export type InvoicePayload = z.output<typeof ZInvoice>;

const ZCharge = z
  .object({
    object: z.literal('charge'),
    id: ZStripeId,
    payment_intent: opt(ZRef),
    amount: ZCents,
    amount_refunded: ZCents,
    refunded: z.boolean(),
    currency: ZCurrency,
    metadata: opt(ZMetadata),
  })
  .loose()
  .refine((c) => c.amount_refunded <= c.amount, { message: 'more refunded than charged', path: ['amount_refunded'] });
export type ChargePayload = z.output<typeof ZCharge>;

/** Dispute statuses that end a dispute, and what they mean for the money. */
export const DISPUTE_FINAL = { won: 'won', warning_closed: 'won', prevented: 'won', lost: 'lost' } as const satisfies Record<string, 'won' | 'lost'>;

const ZDispute = z
  .object({
    object: z.literal('dispute'),
    id: z.string().regex(/^(dp|du)_[A-Za-z0-9_]{1,251}$/, 'not a dispute id'),
    charge: ZRef,
    payment_intent: opt(ZRef),
    amount: ZCents,
    currency: ZCurrency,
    status: ZWord,
  })
  .loose();
export type DisputePayload = z.output<typeof ZDispute>;

export const readCheckoutSession = (value: unknown): CheckoutSessionPayload => read(ZCheckoutSession, value, 'checkout session');
export const readInvoice = (value: unknown): InvoicePayload => read(ZInvoice, value, 'invoice');
export const readCharge = (value: unknown): ChargePayload => read(ZCharge, value, 'charge');
export const readDispute = (value: unknown): DisputePayload => read(ZDispute, value, 'dispute');
