// Signed Stripe events with broken fields never answer 500 and never write: every
// event type the handler applies is generated from a valid base (one that would
// apply, checked at the end) with one to three of the fields it reads broken —
// non-numeric or negative amounts, missing objects, wrong types, text Postgres
// cannot store — or with its object replaced by arbitrary JSON. Each one must be
// acknowledged 200 (`rejected`, or `ignored` where the break makes it foreign),
// with nothing but its stripe_events row written.
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkoutSessionObject, eventObject, stripeId, unixNow } from './stripe-objects.ts';
import { startStripeFake, type StripeFake } from '../../test/fakes/stripe-server.ts';
import { billingSnapshot, deliver, signUp } from '../../test/helpers/billing.ts';
import { openapiObject } from '../../test/helpers/outside-stripe.ts';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

const PRICES = { price_pro_fz: 1_500, price_ent_fz: 9_900, price_100k_fz: 500, price_1m_fz: 4_000 };

let fake: StripeFake;
let server: TestServer;
/** Valid objects, one per event type, that would change something if they applied. */
let bases: Record<string, () => Record<string, any>>;

beforeAll(async () => {
  fake = await startStripeFake({ prices: PRICES });
  server = await startTestServer(
    fake.env({
      STRIPE_PRICE_PRO: 'price_pro_fz',
      STRIPE_PRICE_ENTERPRISE: 'price_ent_fz',
      STRIPE_PRICE_PACK_100K: 'price_100k_fz',
      STRIPE_PRICE_PACK_1M: 'price_1m_fz',
    }),
  );

  // A pack bought (for refunds and disputes) and a pack checkout not yet completed.
  const buyer = await signUp(server, 'fuzz-packs');
  const bought = await buyer.b.trpc.billing.checkout.mutate({ pack: 'pack_100k' });
  const boughtSession = [...fake.sessions.values()].find((s) => s.session.url === bought.url)!.session;
  const paid = fake.completeCheckout(boughtSession.id);
  expect((await deliver(server, fake, paid.events[0]!)).body.outcome).toBe('pack_granted');
  const pending = await buyer.b.trpc.billing.checkout.mutate({ pack: 'pack_1m' });
  const pendingSession = [...fake.sessions.values()].find((s) => s.session.url === pending.url)!.session;
  const completedPack = fake.completeCheckout(pendingSession.id).events[0]!.data.object as unknown as Record<string, any>;

  // A Pro subscriber (for invoices and subscription events).
  const subscriber = await signUp(server, 'fuzz-sub');
  const checkout = await subscriber.b.trpc.billing.checkout.mutate({ plan: 'pro' });
  const subSession = [...fake.sessions.values()].find((s) => s.session.url === checkout.url)!.session;
  const subscribed = fake.completeCheckout(subSession.id, unixNow() - 600);
  for (const event of subscribed.events) expect((await deliver(server, fake, event)).status).toBe(200);
  const sub = subscribed.subscription!;
  // The fake now says Enterprise: a subscription or invoice event that applied would change the plan.
  const upgraded = fake.updateSubscription(sub.id, { priceId: 'price_ent_fz' });
  const renewal = fake.invoiceFor(sub.id, { status: 'paid', billingReason: 'subscription_cycle' }) as unknown as Record<string, any>;

  const charge = openapiObject('charge');
  Object.assign(charge, {
    id: stripeId('ch'),
    payment_intent: paid.paymentIntent,
    amount: 500,
    amount_refunded: 500,
    refunded: true,
    metadata: { pack_id: 'pack_100k' },
  });
  const dispute = openapiObject('dispute');
  Object.assign(dispute, { id: stripeId('dp'), charge: charge.id, payment_intent: paid.paymentIntent, amount: 500 });
  const subscriptionSession = checkoutSessionObject({
    id: stripeId('cs_test', 58),
    mode: 'subscription',
    customer: String(subSession.customer),
    clientReferenceId: subscriber.userId,
    metadata: { user_id: subscriber.userId },
    amountTotal: 9_900,
    status: 'complete',
    paymentStatus: 'paid',
    subscription: sub.id,
    successUrl: null,
    cancelUrl: null,
  }) as unknown as Record<string, any>;

  const copy =
    <T>(value: T) =>
    (): T =>
      structuredClone(value);
  bases = {
    'checkout.session.completed': copy(completedPack),
    'checkout.session.async_payment_succeeded': copy(completedPack),
    'checkout.session.completed (subscription)': copy(subscriptionSession),
    'invoice.paid': copy(renewal),
    'invoice.payment_succeeded': copy(renewal),
    'invoice.payment_failed': copy({ ...renewal, status: 'open', amount_paid: 0, amount_remaining: renewal.amount_due }),
    'charge.refunded': copy(charge),
    'charge.dispute.created': copy(dispute),
    'charge.dispute.closed': copy({ ...dispute, status: 'lost' }),
    'customer.subscription.created': copy(upgraded as unknown as Record<string, any>),
    'customer.subscription.updated': copy(upgraded as unknown as Record<string, any>),
    'customer.subscription.deleted': copy({ ...upgraded, status: 'canceled', ended_at: unixNow() } as unknown as Record<string, any>),
    'customer.subscription.paused': copy({ ...upgraded, status: 'paused' } as unknown as Record<string, any>),
    'customer.subscription.resumed': copy(upgraded as unknown as Record<string, any>),
    'customer.subscription.pending_update_applied': copy(upgraded as unknown as Record<string, any>),
    'customer.subscription.pending_update_expired': copy(upgraded as unknown as Record<string, any>),
  };
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

// ---- How a field can be broken ----

const NOT_AN_ID = ['bad id!', '', 'sub_\u0000x', 'cs_\ud800', 'x'.repeat(300)];
const breakers = {
  missing: fc.constant(undefined),
  null: fc.constant(null),
  nonNumeric: fc.constantFrom('abc', 'NaN', '500', '1e3', '', ' 12 ', 'Infinity', '\u0000'),
  badNumber: fc.oneof(
    fc.constantFrom(1.5, -1, -500, 1e300, Number.MAX_SAFE_INTEGER * 2, 0.1),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
  ),
  number: fc.oneof(fc.integer(), fc.constant(0)),
  bool: fc.boolean(),
  array: fc.oneof(fc.constant([]), fc.array(fc.jsonValue({ maxDepth: 1 }), { minLength: 1, maxLength: 3 })),
  object: fc.oneof(fc.constant({}), fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { minKeys: 1, maxKeys: 3 })),
  badId: fc.constantFrom(...NOT_AN_ID),
  badWord: fc.constantFrom('Active', 'past-due', 'WON', '1', 'a'.repeat(80), 'won\u0000', 'status with spaces'),
  badCurrency: fc.constantFrom('us', 'dollars', 'u$d', '', '12a', 'eu\u0000'),
  otherObject: fc.constantFrom('invoice', 'charge', 'subscription', 'customer', 'checkout.session', 'dispute', ''),
};
type Breaker = keyof typeof breakers;

const TEXT_ID: Breaker[] = ['missing', 'null', 'number', 'bool', 'array', 'object', 'badId'];
const REF: Breaker[] = ['number', 'bool', 'array', 'badId'];
const CENTS: Breaker[] = ['missing', 'null', 'nonNumeric', 'badNumber', 'bool', 'array', 'object'];
const WORD: Breaker[] = ['missing', 'null', 'number', 'bool', 'array', 'object', 'badWord'];
const METADATA: Breaker[] = ['nonNumeric', 'number', 'bool', 'array'];
const OBJECT_TYPE: Breaker[] = ['missing', 'null', 'number', 'otherObject'];
const UNIX: Breaker[] = ['nonNumeric', 'badNumber', 'bool', 'array', 'object'];

/** Per object kind: the fields the handler reads, and what breaks each one. */
const CHECKOUT: Record<string, Breaker[]> = {
  id: TEXT_ID,
  object: OBJECT_TYPE,
  mode: WORD,
  payment_status: WORD,
  amount_total: ['nonNumeric', 'badNumber', 'bool', 'array', 'object'],
  customer: REF,
  client_reference_id: ['number', 'bool', 'array', 'object'],
  metadata: METADATA,
  'metadata.pack_id': ['number', 'bool', 'array', 'object', 'null'],
  payment_intent: REF,
  subscription: REF,
  currency: ['number', 'bool', 'array', 'badCurrency'],
};
const INVOICE: Record<string, Breaker[]> = {
  id: TEXT_ID,
  object: OBJECT_TYPE,
  amount_paid: CENTS,
  amount_due: CENTS,
  currency: ['missing', 'null', 'number', 'bool', 'badCurrency'],
  customer: REF,
  parent: ['nonNumeric', 'number', 'bool', 'array'],
  'parent.subscription_details': ['nonNumeric', 'number', 'bool', 'array'],
  'parent.subscription_details.subscription': REF,
  billing_reason: ['number', 'bool', 'array', 'badWord'],
};
const CHARGE: Record<string, Breaker[]> = {
  id: TEXT_ID,
  object: OBJECT_TYPE,
  amount: CENTS,
  amount_refunded: CENTS,
  refunded: ['missing', 'null', 'nonNumeric', 'number', 'array', 'object'],
  payment_intent: REF,
  metadata: METADATA,
};
const DISPUTE: Record<string, Breaker[]> = {
  id: TEXT_ID,
  object: OBJECT_TYPE,
  charge: TEXT_ID,
  payment_intent: REF,
  amount: CENTS,
  status: WORD,
};
const SUBSCRIPTION: Record<string, Breaker[]> = {
  id: TEXT_ID,
  object: OBJECT_TYPE,
  customer: ['missing', 'null', 'number', 'bool', 'array', 'badId'],
  status: WORD,
  items: ['missing', 'null', 'nonNumeric', 'number', 'array'],
  'items.data': ['missing', 'null', 'nonNumeric', 'object'],
  'items.data.0': ['null', 'nonNumeric', 'number', 'array'],
  'items.data.0.id': TEXT_ID,
  'items.data.0.price': ['missing', 'null', 'nonNumeric', 'number', 'array'],
  'items.data.0.price.id': TEXT_ID,
  'items.data.0.current_period_start': ['missing', 'null', ...UNIX],
  'items.data.0.current_period_end': ['missing', 'null', ...UNIX],
  cancel_at_period_end: ['nonNumeric', 'number', 'array', 'object'],
  cancel_at: UNIX,
  canceled_at: UNIX,
  metadata: METADATA,
  'metadata.user_id': ['number', 'bool', 'array', 'object'],
};
const FIELDS: Record<string, Record<string, Breaker[]>> = {
  'checkout.session.completed': CHECKOUT,
  'checkout.session.async_payment_succeeded': CHECKOUT,
  'checkout.session.completed (subscription)': CHECKOUT,
  'invoice.paid': INVOICE,
  'invoice.payment_succeeded': INVOICE,
  'invoice.payment_failed': INVOICE,
  'charge.refunded': CHARGE,
  'charge.dispute.created': DISPUTE,
  'charge.dispute.closed': DISPUTE,
};
const EVENT_TYPES = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.completed (subscription)',
  'invoice.paid',
  'invoice.payment_succeeded',
  'invoice.payment_failed',
  'charge.refunded',
  'charge.dispute.created',
  'charge.dispute.closed',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'customer.subscription.paused',
  'customer.subscription.resumed',
  'customer.subscription.pending_update_applied',
  'customer.subscription.pending_update_expired',
];
const fieldsOf = (caseName: string) => FIELDS[caseName] ?? SUBSCRIPTION;
const typeOf = (caseName: string) => caseName.replace(/ \(.*\)$/, '');

function setPath(target: Record<string, any>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node: any = target;
  for (const part of parts.slice(0, -1)) {
    if (!node || typeof node !== 'object') return;
    node = node[part];
  }
  if (!node || typeof node !== 'object') return;
  const last = parts.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

/** One to three broken fields of one event type's object. */
const brokenEvent = fc.constantFrom(...EVENT_TYPES).chain((caseName) => {
  const fields = fieldsOf(caseName);
  const oneBreak = fc
    .constantFrom(...Object.keys(fields))
    .chain((path) => fc.constantFrom(...fields[path]!).chain((breaker) => breakers[breaker].map((value) => ({ path, breaker, value }))));
  return fc.record({ caseName: fc.constant(caseName), breaks: fc.array(oneBreak, { minLength: 1, maxLength: 3 }) });
});

async function deliverCase(caseName: string, object: unknown, envelope: Record<string, unknown> = {}) {
  const event = { ...eventObject(typeOf(caseName), { id: 'x', object: 'x' }, { created: unixNow() + 3_600 }), ...envelope } as Record<string, unknown>;
  event.data = { object };
  return deliver(server, fake, event as never);
}

describe('signed webhooks with broken fields', () => {
  it('every handled event type, one to three fields broken: 200 rejected (or ignored), nothing written', async () => {
    const before = await billingSnapshot(server);
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(brokenEvent, async ({ caseName, breaks }) => {
        const object = bases[caseName]!();
        const original = JSON.parse(JSON.stringify(object));
        for (const { path, value } of breaks) setPath(object, path, value);
        // Breaks that leave the object as it was (a value written back, or a field deleted and then set to
        // its own value again) break nothing; compared as JSON, whatever the order of the keys.
        fc.pre(!isDeepStrictEqual(JSON.parse(JSON.stringify(object)), original));
        const result = await deliverCase(caseName, object);
        const label = `${caseName} ${JSON.stringify(breaks.map((b) => [b.path, b.breaker, b.value]))}`;
        expect(result.status, label).toBe(200);
        expect(['rejected', 'ignored'], label).toContain(result.body.outcome);
        seen.add(`${caseName}:${result.body.outcome}`);
      }),
      // FC_SEED=<seed> replays a failure fast-check reported.
      { numRuns: 400, ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}) },
    );
    expect(await billingSnapshot(server)).toEqual(before);
    // Every event type was exercised and refused at least once.
    for (const caseName of EVENT_TYPES) expect(seen.has(`${caseName}:rejected`), caseName).toBe(true);
  });

  it('arbitrary JSON as the object, or a broken envelope: 200 rejected (or ignored), nothing written', async () => {
    const before = await billingSnapshot(server);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...EVENT_TYPES), fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.object({ maxDepth: 2 })), async (caseName, junk) => {
        const result = await deliverCase(caseName, junk);
        expect(result.status, `${caseName} ${JSON.stringify(junk)}`).toBe(200);
        expect(['rejected', 'ignored']).toContain(result.body.outcome);
      }),
      { numRuns: 150 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...EVENT_TYPES),
        fc.oneof(breakers.nonNumeric, breakers.badNumber, breakers.null, breakers.array, breakers.object, fc.constant(-5)),
        async (caseName, created) => {
          // A valid object whose event has no usable `created` time (or no `data` at all).
          const result = await deliverCase(caseName, bases[caseName]!(), { created });
          expect(result.status).toBe(200);
          expect(result.body.outcome).toBe('rejected');
          const noData = { ...eventObject(typeOf(caseName), { id: 'x', object: 'x' }, { created: unixNow() + 3_600 }) } as Record<string, unknown>;
          delete noData.data;
          expect((await deliver(server, fake, noData as never)).body.outcome).toBe('rejected');
        },
      ),
      { numRuns: 40 },
    );
    expect(await billingSnapshot(server)).toEqual(before);
  });

  it('the bases themselves apply (so the refusals above came from the broken fields)', async () => {
    const before = await billingSnapshot(server);
    for (const caseName of EVENT_TYPES) {
      const result = await deliverCase(caseName, bases[caseName]!());
      expect(result.status, caseName).toBe(200);
      expect(['rejected', 'ignored', 'duplicate'], `${caseName}: ${result.body.outcome}`).not.toContain(result.body.outcome);
    }
    expect(await billingSnapshot(server)).not.toEqual(before);
  });
});
