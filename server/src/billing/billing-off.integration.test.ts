// Without STRIPE_SECRET_KEY (and without the simulator) billing says so, and the
// rest of the product works.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from '../../test/helpers/billing.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestServer } from '../../test/helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('billing without Stripe', () => {
  it('checkout, portal and simulate answer billing_not_configured; status, packs and chat work', async () => {
    const { b } = await signUp(server, 'off');
    expect(await trpcError(b.trpc.billing.checkout.mutate({ plan: 'pro' }))).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      reason: 'billing_not_configured',
      httpStatus: 503,
    });
    expect(await trpcError(b.trpc.billing.checkout.mutate({ pack: 'pack_100k' }))).toMatchObject({ reason: 'billing_not_configured' });
    expect(await trpcError(b.trpc.billing.portal.mutate())).toMatchObject({ reason: 'billing_not_configured' });
    expect(await trpcError(b.trpc.billing.simulate.mutate({ action: 'renew' }))).toMatchObject({ reason: 'billing_not_configured' });
    expect(await b.trpc.billing.status.query()).toMatchObject({ mode: 'off', plan: 'free', subscription: null, purchasablePlans: [] });
    expect(await b.trpc.billing.packs.query()).toHaveLength(2);
    expect((await send(b, { content: 'still chatting' })).done?.status).toBe('ok');
  });

  it('the webhook route answers 503 billing_not_configured and stores nothing', async () => {
    const response = await fetch(`${server.url}/webhooks/stripe`, { method: 'POST', headers: { 'stripe-signature': 't=1,v1=00' }, body: '{}' });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { reason: 'billing_not_configured' } });
    expect(await server.deps.prisma.stripeEvent.count()).toBe(0);
  });
});
