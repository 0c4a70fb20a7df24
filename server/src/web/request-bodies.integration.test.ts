// Bodies and inputs the JSON reader cannot take, over HTTP: nested 100,000 deep,
// not JSON, not declared as JSON, too large, in an unknown encoding. Every one is
// 400 invalid_input with a message that says why (in tRPC's own error shape on
// /trpc, for each call of a batch), never a 5xx, and the server keeps serving.
import { gzipSync } from 'node:zlib';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

const WEBHOOK_SECRET = 'whsec_request_bodies_test';
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ BILLING_SIMULATOR: '1', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET });
});
afterAll(async () => {
  await server?.close();
});

const arrays = (n: number) => '['.repeat(n) + ']'.repeat(n);
const objects = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;

interface TrpcError {
  message: string;
  data: { code: string; httpStatus: number; reason: string };
}

/** The tRPC errors of an answer: one for a single call, one per call for a batch. */
async function trpcErrors(res: Response): Promise<TrpcError[]> {
  const body = (await res.json()) as { error?: { json: TrpcError } } | { error?: { json: TrpcError } }[];
  return (Array.isArray(body) ? body : [body]).map((item) => {
    expect(item.error, JSON.stringify(item).slice(0, 200)).toBeDefined();
    return item.error!.json;
  });
}

async function expectInvalid(res: Response, message: RegExp, calls = 1) {
  expect(res.status).toBe(400);
  const errors = await trpcErrors(res);
  expect(errors).toHaveLength(calls);
  for (const e of errors) {
    expect(e.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, reason: 'invalid_input' });
    expect(e.message).toMatch(message);
  }
}

function post(path: string, body: string | Uint8Array, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  return fetch(`${server.url}${path}`, { method: 'POST', headers: { origin: server.url, ...headers }, body });
}

describe('deeply nested input', () => {
  it('a mutation body nested 100,000 deep is 400 invalid_input, single and batched', async () => {
    await expectInvalid(await post('/trpc/auth.signIn', `{"json":${arrays(100_000)}}`), /nested too deeply \(at most 32 levels\)/);
    await expectInvalid(await post('/trpc/auth.signIn', arrays(100_000)), /nested too deeply/);
    await expectInvalid(
      await post('/trpc/auth.signIn,auth.requestMagicLink?batch=1', `{"0":{"json":${arrays(100_000)}},"1":{"json":{"email":"x@example.com"}}}`),
      /nested too deeply/,
      2,
    );
    // Deep superjson meta, which superjson walks recursively.
    await expectInvalid(
      await post('/trpc/auth.signIn', `{"json":{"email":"a@example.com","password":"p"},"meta":{"values":{"email":${arrays(60_000)}}}}`),
      /nested too deeply/,
    );
    // Objects: 100,000 levels are over the size limit too; 40,000 are not.
    await expectInvalid(await post('/trpc/auth.signIn', `{"json":${objects(40_000)}}`), /nested too deeply/);
  });

  it('a query input nested deeper than the limit is 400 invalid_input, single and batched; 32 levels are fine', async () => {
    const deep = encodeURIComponent(`{"json":${arrays(2_000)}}`);
    await expectInvalid(await fetch(`${server.url}/trpc/planner.estimate?input=${deep}`), /nested too deeply/);
    await expectInvalid(
      await fetch(`${server.url}/trpc/planner.estimate,planner.estimate?batch=1&input=${encodeURIComponent(`{"0":{"json":${arrays(40)}}}`)}`),
      /nested too deeply/,
      2,
    );
    // 32 levels are read (and refused by the procedure's own schema, as any wrong shape is).
    const shallow = await fetch(`${server.url}/trpc/planner.estimate?input=${encodeURIComponent(`{"json":{"users":${arrays(30)}}}`)}`);
    await expectInvalid(shallow, /profile/);
  });
});

describe('bodies the JSON reader cannot take', () => {
  it('invalid JSON, a wrong or missing content type, a body over 256 kB and an unknown encoding are 400 invalid_input', async () => {
    await expectInvalid(await post('/trpc/auth.signIn', '{"json":'), /^The input is not valid JSON\.$/);
    await expectInvalid(await post('/trpc/auth.signIn,auth.signUp?batch=1', '{"0":'), /not valid JSON/, 2);
    await expectInvalid(await fetch(`${server.url}/trpc/planner.estimate?input=%7B%22json`), /not valid JSON/);
    await expectInvalid(
      await post('/trpc/auth.signIn', '{"json":{}}', { 'content-type': 'text/plain' }),
      /^Send the input as JSON \(Content-Type: application\/json\)\.$/,
    );
    await expectInvalid(await post('/trpc/auth.signIn', '{"json":{}}', {}), /Content-Type: application\/json/);
    const huge = JSON.stringify({ json: { email: 'a@example.com', password: 'x'.repeat(300_000) } });
    await expectInvalid(await post('/trpc/auth.signIn', huge), /^The request body is too large \(at most 256 kB\)\.$/);
    await expectInvalid(await post('/trpc/auth.signIn,auth.signUp?batch=1', `{"0":${huge}}`), /too large/, 2);
    await expectInvalid(
      await post('/trpc/auth.signIn', '{"json":{}}', { 'content-type': 'application/json', 'content-encoding': 'br-nope' }),
      /Content-Encoding/,
    );
    await expectInvalid(await post('/trpc/auth.signIn', '{"json":{}}', { 'content-type': 'application/json; charset=latin-9000' }), /UTF-8/);
    // A gzip bomb is measured inflated.
    await expectInvalid(
      await post('/trpc/auth.signIn', gzipSync(Buffer.from(`{"json":"${'a'.repeat(2_000_000)}"}`)), {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      }),
      /too large/,
    );
  });

  it('a well-formed gzip body is read as before', async () => {
    const res = await post(
      '/trpc/auth.signIn',
      gzipSync(Buffer.from(JSON.stringify({ json: { email: 'nobody@example.com', password: 'not the password' } }))),
      {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      },
    );
    expect(res.status).toBe(401);
  });
});

describe('the other routes that take a body', () => {
  it('/webhooks/stripe: a deep body, unsigned or even signed, and one over 1 MB are 400 invalid_input', async () => {
    const deep = `{"id":"evt_deep","object":"event","type":"invoice.paid","created":1,"livemode":false,"data":{"object":${arrays(100_000)}}}`;
    const unsigned = await post('/webhooks/stripe', deep, { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' });
    expect(unsigned.status).toBe(400);
    expect(((await unsigned.json()) as { error: { reason: string } }).error.reason).toBe('invalid_input');
    const signature = Stripe.webhooks.generateTestHeaderString({ payload: deep, secret: WEBHOOK_SECRET });
    const signed = await post('/webhooks/stripe', deep, { 'content-type': 'application/json', 'stripe-signature': signature });
    expect(signed.status).toBe(400);
    expect(await signed.json()).toEqual({ error: { reason: 'invalid_input', message: 'The body is not a Stripe event.' } });
    const big = await post('/webhooks/stripe', 'x'.repeat(1_100_000), { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' });
    expect(big.status).toBe(400);
    expect(await big.json()).toEqual({ error: { reason: 'invalid_input', message: 'The request body is too large (at most 1024 kB).' } });
  });

  it('after all of that the server still answers', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const b = server.browser({ ip: '10.71.0.1' });
    await expect(b.trpc.plans.list.query()).resolves.toBeInstanceOf(Array);
  });
});
