// Real Stripe payloads from test/fixtures/outside/stripe (see the README there for
// where each came from). Every call returns a fresh deep copy, so a test can point
// ids at its own accounts without touching what the next test reads.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type Stripe from 'stripe';
import { stripeId, unixNow } from '../../src/billing/stripe-objects.ts';

const DIR = fileURLToPath(new URL('../fixtures/outside/stripe/', import.meta.url));

export function outsideJson<T = any>(file: string): T {
  return JSON.parse(readFileSync(`${DIR}${file}`, 'utf8')) as T;
}

type OpenapiResource =
  | 'event'
  | 'subscription'
  | 'subscription_item'
  | 'invoice'
  | 'checkout.session'
  | 'charge'
  | 'dispute'
  | 'refund'
  | 'payment_intent'
  | 'price'
  | 'customer';

/** One of Stripe's own example objects (stripe/openapi fixtures3.json at f6c2a48b). */
export function openapiObject(resource: OpenapiResource): Record<string, any> {
  return outsideJson<Record<string, Record<string, any>>>('openapi-fixtures3-f6c2a48.json')[resource]!;
}

/** The live basil `invoice.payment_succeeded` event, untouched. */
export function nomamiInvoicePaymentSucceeded(): Stripe.Event & { data: { object: Record<string, any> } } {
  return outsideJson('nomami-invoice.payment_succeeded-2025-08-27.basil.json');
}

/**
 * An event in Stripe's envelope (fixtures3's `event` resource) around `object`: a new
 * event id and `created` unless given, the envelope's other fields as Stripe sends them.
 */
export function openapiEvent(type: string, object: Record<string, unknown>, p: { id?: string; created?: number } = {}): Stripe.Event {
  const event = openapiObject('event');
  event.id = p.id ?? stripeId('evt');
  event.type = type;
  event.created = p.created ?? unixNow();
  event.data = { object };
  return event as unknown as Stripe.Event;
}
