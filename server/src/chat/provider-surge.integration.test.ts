// Surge protection end to end: a fake provider that answers 429 past N concurrent
// requests (the provider's own rate limit), and a crowd of paid users and guests at
// once. The admission gate must serve every paid user, shed guests with
// TOO_MANY_REQUESTS provider_busy (never the provider's 429), charge nobody it
// refused, and show itself on /metrics.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../../test/fakes/openai-server.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';

const PROVIDER_LIMIT = 2;
const QUEUE = { PROVIDER_QUEUE_SIZE: '3', PROVIDER_QUEUE_TIMEOUT_MS: '20000', OPENAI_TIMEOUT_MS: '10000', OPENAI_MAX_RETRIES: '2' };
const LIMITS = {
  chat: { points: 10_000, duration: 60 },
  chatIp: { points: 10_000, duration: 60 },
  guestIp: { points: 10_000, duration: 60 },
  signUpIp: { points: 10_000, duration: 60 },
};

/** Paid users and guests at once against a provider that takes PROVIDER_LIMIT streams. */
async function surge(server: TestServer, fake: FakeOpenAIServer, providerId: string) {
  // The provider: at most PROVIDER_LIMIT streams at once, a 429 with Retry-After past that.
  fake.setHandler((request) => {
    const active = fake.requests.filter((r) => r !== request && r.status === 200 && r.closedAt === undefined).length;
    if (active >= PROVIDER_LIMIT) {
      return {
        status: 429,
        headers: { 'retry-after-ms': '300' },
        error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' },
      };
    }
    return { reply: 'served in turn', chunks: 5, chunkDelayMs: 150 };
  });

  const paid: TestBrowser[] = [];
  for (let i = 0; i < 3; i++) {
    const b = server.browser({ ip: `10.91.0.${i + 1}` });
    const { user } = await b.trpc.auth.signUp.mutate({ email: `surge-pro-${i}-${Date.now()}@example.com`, password: 'correct horse battery' });
    await server.deps.prisma.user.update({ where: { id: user.id }, data: { planId: i === 0 ? 'enterprise' : 'pro' } });
    paid.push(b);
  }
  const guests = Array.from({ length: 7 }, (_, i) => server.browser({ ip: `10.92.0.${i + 1}` }));

  const outcome = async (b: TestBrowser, content: string) => {
    try {
      const result = await send(b, { content });
      return { ok: true as const, text: result.text, done: result.done };
    } catch (error) {
      return { ok: false as const, ...(await trpcError(Promise.reject(error))) };
    }
  };
  const [paidResults, guestResults] = await Promise.all([
    Promise.all(paid.map((b, i) => outcome(b, `paid question ${i}`))),
    Promise.all(guests.map((b, i) => outcome(b, `guest question ${i}`))),
  ]);

  // The scenario happened: the provider did refuse requests past its limit.
  expect(fake.requests.some((r) => r.status === 429)).toBe(true);
  // Every paid user got an answer.
  for (const r of paidResults) {
    expect(r).toMatchObject({ ok: true, text: 'served in turn', done: { status: 'ok' } });
  }
  // Guests were shed, each with provider_busy and a wait; none saw the provider's 429 or a failure.
  const shed = guestResults.filter((r) => !r.ok);
  expect(shed.length).toBeGreaterThan(0);
  for (const r of shed) {
    expect(r).toMatchObject({ ok: false, code: 'TOO_MANY_REQUESTS', reason: 'provider_busy' });
    expect(Number((r as { data: { retryAfterSeconds?: number } }).data.retryAfterSeconds)).toBeGreaterThanOrEqual(1);
  }
  for (const r of guestResults.filter((x) => x.ok)) expect(r).toMatchObject({ text: 'served in turn' });

  // Refused means uncharged: their settlements cost nothing and gave the message back.
  const errors = await server.deps.prisma.$queryRaw<{ n: bigint; cost: bigint; tokens: bigint }[]>(Prisma.sql`
    SELECT count(*)::bigint AS n, COALESCE(sum(cost_micro_usd), 0)::bigint AS cost, COALESCE(sum(prompt_tokens + completion_tokens), 0)::bigint AS tokens
      FROM usage_events WHERE status = 'error'`);
  expect(Number(errors[0]!.n)).toBe(shed.length);
  expect(errors[0]!.cost).toBe(0n);
  expect(errors[0]!.tokens).toBe(0n);
  const served = await server.deps.prisma.usageEvent.count({ where: { status: 'ok', provider: providerId } });
  expect(served).toBe(paidResults.length + guestResults.length - shed.length);
  const counted = await server.deps.prisma.$queryRaw<{ used: bigint }[]>(Prisma.sql`
    SELECT COALESCE(sum(used), 0)::bigint AS used FROM quota_counters WHERE kind = 'messages_day' AND subject LIKE 'u:%'`);
  expect(Number(counted[0]!.used)).toBe(served);

  // The gate is visible on /metrics: shed by plan, and nothing left in flight or queued.
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  expect(metrics).toMatch(new RegExp(`chatmeter_provider_gate_shed_total\\{provider="${providerId}",plan="guest"\\} ${shed.length}\\b`));
  expect(metrics).not.toMatch(new RegExp(`chatmeter_provider_gate_shed_total\\{provider="${providerId}",plan="(pro|enterprise)"\\}`));
  expect(metrics).toMatch(new RegExp(`chatmeter_provider_gate_in_flight\\{provider="${providerId}"\\} 0\\b`));
  expect(metrics).toMatch(new RegExp(`chatmeter_provider_gate_queued\\{provider="${providerId}"\\} 0\\b`));
}

describe('a provider at its rate limit (one instance, in-memory gate)', () => {
  let fake: FakeOpenAIServer;
  let server: TestServer;
  beforeAll(async () => {
    fake = await startFakeOpenAIServer();
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.baseUrl, ...QUEUE }, { limits: LIMITS });
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });

  it('serves paid users, sheds guests with provider_busy, and charges no one it refused', async () => {
    await surge(server, fake, 'openai');
  });
});

describe.skipIf(!process.env.TEST_REDIS_URL)('a provider at its rate limit (gate shared in Redis, PROVIDERS_FILE)', () => {
  let fake: FakeOpenAIServer;
  let server: TestServer;
  // Its own provider id: its keys (cm:gate:<id>:*) are no other test's.
  const providerId = `surge-${Date.now().toString(36)}`;
  beforeAll(async () => {
    fake = await startFakeOpenAIServer();
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cm-surge-')), 'providers.json');
    writeFileSync(file, JSON.stringify([{ id: providerId, kind: 'compatible', baseUrl: fake.baseUrl, apiKeyEnv: 'SURGE_KEY', models: ['gpt-4o-mini'] }]));
    server = await startTestServer(
      { PROVIDERS_FILE: file, SURGE_KEY: 'sk-surge', REDIS_URL: process.env.TEST_REDIS_URL!, ...QUEUE },
      { limits: LIMITS, redisCommandTimeoutMs: 5_000 },
    );
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });

  it('serves paid users, sheds guests with provider_busy, and charges no one it refused', async () => {
    await surge(server, fake, providerId);
    // The closure and the learned cap were shared state; no lease is left behind.
    const redis = server.deps.redis!;
    expect(await redis.zcount(`cm:gate:${providerId}:leases`, '-inf', '+inf')).toBe(0);
  });
});
