// The founder's wallet: dollar caps at every level (the plan's, the user's own, the
// service's per day and per month), held worst case in micro-USD while a reply streams and
// settled to its real cost. 200 concurrent requests at each cap never let the settled cost
// pass it, on one instance and across two sharing Redis; requests near a cap are shortened
// to fit before any is refused; the plan's fallback model answers when the one asked for no
// longer fits; every refusal names its limit and the real wait.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import { userSubject } from './counters.ts';
import { calendarMonthStart, nextCalendarMonth } from './meter.ts';
import { dayStart, monthStart, nextDay } from './periods.ts';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../../test/fakes/openai-server.ts';
import { send, type SendResult } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';

const MAX_TOKENS = 100;
const MIN_COMPLETION = 16;
// gpt-4o-mini: $0.15 / $0.60 per million tokens; gpt-4o: $2.50 / $10.00.
const MINI = { in: 150_000, out: 600_000 };
const FOUR_O = { in: 2_500_000, out: 10_000_000 };
const PLAN_CAP = 200_000;
const unlimited = { requestsPerMinute: 10_000, messagesPerHour: 10_000, messagesPerDay: 10_000, tokensPerMonth: 100_000_000 };

let fake: FakeOpenAIServer;
let server: TestServer;
let second: TestServer | undefined;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wallet-'));
  // Messages and tokens out of the way: only the dollars limit here.
  const plans = DEFAULT_PLANS.map((plan) =>
    plan.id === 'free'
      ? { ...plan, limits: { ...plan.limits, ...unlimited, models: ['gpt-4o-mini', 'gpt-4o'], costPerMonthMicroUsd: PLAN_CAP, fallbackModel: 'gpt-4o-mini' } }
      : plan,
  );
  writeFileSync(path.join(dir, 'plans.json'), JSON.stringify(plans));
  fake = await startFakeOpenAIServer();
  const env = {
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: fake.baseUrl,
    // 200 streams at once on a loaded 2-core machine: a slow answer is retried, never counted as a refusal.
    OPENAI_MAX_RETRIES: '2',
    OPENAI_TIMEOUT_MS: '30000',
    CHAT_MAX_TOKENS: String(MAX_TOKENS),
    CHAT_MIN_COMPLETION_TOKENS: String(MIN_COMPLETION),
    PLANS_FILE: path.join(dir, 'plans.json'),
    PROVIDER_QUEUE_SIZE: '1000',
    ...(process.env.TEST_REDIS_URL ? { REDIS_URL: process.env.TEST_REDIS_URL } : {}),
  };
  const limits = {
    chat: { points: 10_000, duration: 60 },
    chatIp: { points: 10_000, duration: 60 },
    guestIp: { points: 10_000, duration: 60 },
    signUpIp: { points: 10_000, duration: 60 },
  };
  server = await startTestServer(env, { limits });
  if (process.env.TEST_REDIS_URL) second = await startTestServer(env, { limits, sameDatabaseAs: server });
}, 60_000);
afterAll(async () => {
  await second?.close();
  await server?.close();
  await fake?.close();
});
beforeEach(async () => {
  fake.reset();
  // Every reply uses its whole completion cap: the worst case the reservation holds.
  fake.setDefault({ reply: 'Sure.', usageFullCap: true });
  await server.deps.prisma.appSettings.update({ where: { id: 1 }, data: { maxCostPerDayMicroUsd: null, maxCostPerMonthMicroUsd: null } });
  await server.deps.prisma.$executeRaw(Prisma.sql`DELETE FROM quota_counters WHERE subject = 'global'`);
  await server.deps.prisma.$executeRaw(Prisma.sql`DELETE FROM usage_events`);
});

let n = 0;
async function newUser(on: TestServer = server): Promise<{ b: TestBrowser; id: string }> {
  const b = on.browser({ ip: `10.40.${Math.floor(++n / 250)}.${n % 250}` });
  const { user } = await b.trpc.auth.signUp.mutate({ email: `wallet${n}-${Date.now()}@example.com`, password: 'correct horse battery' });
  return { b, id: user.id };
}

async function setCounter(subject: string, kind: string, period: Date, used: number) {
  await server.deps.prisma.$executeRaw(Prisma.sql`
    INSERT INTO quota_counters (subject, kind, period_start, used) VALUES (${subject}, ${kind}, ${period}::timestamptz, ${used}::bigint)
    ON CONFLICT (subject, kind, period_start) DO UPDATE SET used = EXCLUDED.used`);
}

/** Settled chat cost (micro-USD), of one user or of everyone. */
async function settledCost(userId?: string): Promise<number> {
  const [row] = await server.deps.prisma.$queryRaw<{ cost: bigint }[]>(Prisma.sql`
    SELECT COALESCE(sum(cost_micro_usd), 0)::bigint AS cost FROM usage_events
     WHERE kind = 'chat' AND (${userId ?? null}::uuid IS NULL OR user_id = ${userId ?? null}::uuid)`);
  return Number(row!.cost);
}

interface Outcome {
  ok: SendResult[];
  refused: Awaited<ReturnType<typeof trpcError>>[];
}

async function sendAll(senders: TestBrowser[], model = 'gpt-4o-mini'): Promise<Outcome> {
  const results = await Promise.allSettled(senders.map((b, i) => send(b, { content: `Question number ${i}: what is ${i} plus ${i}?`, model })));
  const out: Outcome = { ok: [], refused: [] };
  for (const r of results) {
    if (r.status === 'fulfilled') out.ok.push(r.value);
    else out.refused.push(await trpcError(Promise.reject(r.reason)));
  }
  return out;
}

/** The worst case of the largest reply: the most any one request can hold. */
const fullCost = (prompt: number, price = MINI) => Math.ceil((prompt * price.in + MAX_TOKENS * price.out) / 1_000_000);

function expectShrunkAndRefused(outcome: Outcome, limit: string, reason: string) {
  expect(outcome.ok.length).toBeGreaterThan(0);
  expect(outcome.refused.length).toBeGreaterThan(0);
  for (const r of outcome.refused) expect(r).toMatchObject({ reason, data: { limit } });
  // Near the cap the last replies were shortened to fit rather than refused.
  const shortened = outcome.ok.filter((r) => r.done?.limitedBy === limit);
  expect(shortened.length).toBeGreaterThan(0);
  for (const r of shortened) {
    expect(r.start!.maxTokens).toBeLessThan(MAX_TOKENS);
    expect(r.start!.maxTokens).toBeGreaterThanOrEqual(MIN_COMPLETION);
  }
}

describe('200 concurrent requests at a dollar cap never let the settled cost pass it', () => {
  it("the plan's monthly cost cap (costPerMonthMicroUsd), for one user", async () => {
    const { b, id } = await newUser();
    // 10,000 micro-USD left: room for about 150 of the largest replies, not 200.
    await setCounter(userSubject(id), 'cost_month', monthStart(new Date()), PLAN_CAP - 10_000);
    const outcome = await sendAll(Array.from({ length: 200 }, () => b));
    expectShrunkAndRefused(outcome, 'costPerMonth', 'quota_exhausted');
    expect(await settledCost(id)).toBeLessThanOrEqual(10_000);
    expect(outcome.refused[0]!.data.resetAt).toBeDefined();
    const summary = await b.trpc.usage.summary.query();
    expect(summary.limits.costPerMonthMicroUsd).toBe(PLAN_CAP);
    expect(summary.used.costThisPeriodMicroUsd).toBe(await settledCost(id));
    expect(summary.budget.remainingMicroUsd).toBeLessThan(fullCost(0));
  });

  it("the user's own monthly spending limit (preferences.monthlySpendLimitMicroUsd)", async () => {
    const { b, id } = await newUser();
    await b.trpc.preferences.update.mutate({ monthlySpendLimitMicroUsd: 6_000 });
    const outcome = await sendAll(Array.from({ length: 200 }, () => b));
    expectShrunkAndRefused(outcome, 'personalSpendLimit', 'quota_exhausted');
    expect(outcome.refused[0]!.data.upgrade).toBe(false);
    expect(await settledCost(id)).toBeLessThanOrEqual(6_000);
    const summary = await b.trpc.usage.summary.query();
    expect(summary.budget.personalLimitMicroUsd).toBe(6_000);
    expect(summary.budget.remainingMicroUsd).toBe(6_000 - (await settledCost(id)));
    // Raising it lets the user go on.
    await b.trpc.preferences.update.mutate({ monthlySpendLimitMicroUsd: null });
    expect((await send(b, { content: 'One more?', model: 'gpt-4o-mini' })).done?.limitedBy).toBeNull();
  });

  it("the service's daily cost cap, across users (and instances)", async () => {
    await server.deps.prisma.appSettings.update({ where: { id: 1 }, data: { maxCostPerDayMicroUsd: 8_000n } });
    // 40 micro-USD left: less than one whole reply (about 66, depending on the prompt), more than the
    // smallest one (16 tokens), whatever the prompt's size, so that a reply must be shortened to fit.
    await setCounter('global', 'global_cost_day', dayStart(new Date()), 8_000 - 40);
    const users = await Promise.all(Array.from({ length: 20 }, (_, i) => newUser(second && i % 2 ? second : server)));
    const outcome = await sendAll(Array.from({ length: 200 }, (_, i) => users[i % users.length]!.b));
    expectShrunkAndRefused(outcome, 'globalCostPerDay', 'global_cap');
    expect(await settledCost()).toBeLessThanOrEqual(40);
    const refusal = outcome.refused[0]!;
    expect(refusal.data.resetAt).toBe(nextDay(new Date()).toISOString());
  });

  it("the service's monthly cost cap, across users (and instances)", async () => {
    await server.deps.prisma.appSettings.update({ where: { id: 1 }, data: { maxCostPerMonthMicroUsd: 8_000n } });
    // As above: 40 micro-USD left, so that a reply must be shortened to fit.
    await setCounter('global', 'global_cost_month', calendarMonthStart(new Date()), 8_000 - 40);
    const users = await Promise.all(Array.from({ length: 20 }, (_, i) => newUser(second && i % 2 ? second : server)));
    const outcome = await sendAll(Array.from({ length: 200 }, (_, i) => users[i % users.length]!.b));
    expectShrunkAndRefused(outcome, 'globalCostPerMonth', 'global_cap');
    expect(await settledCost()).toBeLessThanOrEqual(40);
    expect(outcome.refused[0]!.data.resetAt).toBe(nextCalendarMonth(new Date()).toISOString());
    const [row] = await server.deps.prisma.$queryRaw<{ used: bigint }[]>(Prisma.sql`
      SELECT used FROM quota_counters WHERE subject = 'global' AND kind = 'global_cost_month' AND period_start = ${calendarMonthStart(new Date())}::timestamptz`);
    // Settled: the counter holds exactly what the replies cost.
    expect(Number(row!.used)).toBe(8_000 - 40 + (await settledCost()));
  });
});

describe('shrink before refusing, then the fallback', () => {
  it('a reply that does not fit whole is shortened to what is left, and the next one is refused with the limit and its real wait', async () => {
    const { b, id } = await newUser();
    // Room for a reply of about 30 tokens at gpt-4o-mini's prices, not 100.
    await setCounter(userSubject(id), 'cost_month', monthStart(new Date()), PLAN_CAP - 30);
    const shortened = await send(b, { content: 'Hello there', model: 'gpt-4o-mini' });
    expect(shortened.done).toMatchObject({ limitedBy: 'costPerMonth', degradedFrom: null });
    expect(shortened.start!.maxTokens).toBeGreaterThanOrEqual(MIN_COMPLETION);
    expect(shortened.start!.maxTokens).toBeLessThan(MAX_TOKENS);
    expect(fake.requests[0]!.body.max_completion_tokens ?? fake.requests[0]!.body.max_tokens).toBe(shortened.start!.maxTokens);
    const refused = await trpcError(send(b, { content: 'And again', model: 'gpt-4o-mini' }));
    expect(refused).toMatchObject({ reason: 'quota_exhausted', data: { limit: 'costPerMonth' } });
    // The month's end, not the next hour or day.
    const month = await b.trpc.usage.summary.query();
    expect(refused.data.resetAt).toBe(new Date(month.period.end).toISOString());
  });

  it("the plan's fallback model answers when the one asked for no longer fits: start.model names it, done.degradedFrom the one asked for", async () => {
    const { b, id } = await newUser();
    // 600 micro-USD: not 16 completion tokens of gpt-4o on this prompt, but a whole gpt-4o-mini reply.
    await setCounter(userSubject(id), 'cost_month', monthStart(new Date()), PLAN_CAP - 600);
    const cheap = await send(b, { content: 'Tell me about rivers.', model: 'gpt-4o' });
    expect(cheap.start!.model).toBe('gpt-4o-mini');
    expect(cheap.done).toMatchObject({ degradedFrom: 'gpt-4o', limitedBy: null });
    expect(fake.requests[0]!.body.model).toBe('gpt-4o-mini');
    // With plenty left, the model asked for answers.
    await setCounter(userSubject(id), 'cost_month', monthStart(new Date()), 0);
    const full = await send(b, { content: 'Tell me about rivers.', model: 'gpt-4o' });
    expect(full.start!.model).toBe('gpt-4o');
    expect(full.done).toMatchObject({ degradedFrom: null });
    expect(fullCost(10, FOUR_O)).toBeGreaterThan(600);
  });

  it('credits pay past the plan cap; the personal limit binds them too', async () => {
    const { b, id } = await newUser();
    await setCounter(userSubject(id), 'cost_month', monthStart(new Date()), PLAN_CAP);
    await server.deps.prisma.$executeRaw(Prisma.sql`INSERT INTO credit_accounts (user_id, balance_tokens) VALUES (${id}::uuid, 5000)`);
    await server.deps.prisma.$executeRaw(Prisma.sql`
      INSERT INTO credit_ledger (user_id, delta_tokens, balance_after, kind, reason) VALUES (${id}::uuid, 5000, 5000, 'grant', 'test')`);
    const paid = await send(b, { content: 'On credits', model: 'gpt-4o-mini' });
    expect(paid.done?.status).toBe('ok');
    await b.trpc.preferences.update.mutate({ monthlySpendLimitMicroUsd: await settledCost(id) });
    expect(await trpcError(send(b, { content: 'Past my own limit', model: 'gpt-4o-mini' }))).toMatchObject({
      reason: 'quota_exhausted',
      data: { limit: 'personalSpendLimit' },
    });
  });

  it('a refusal weighs every exhausted limit: the day used up and the month spent name the month', async () => {
    const { b, id } = await newUser();
    const now = new Date();
    await setCounter(userSubject(id), 'cost_month', monthStart(now), PLAN_CAP);
    await setCounter(userSubject(id), 'messages_day', dayStart(now), 0);
    const refused = await trpcError(send(b, { content: 'Anything?', model: 'gpt-4o-mini' }));
    expect(refused.data.limit).toBe('costPerMonth');
    expect(refused.data.retryAfterSeconds as number).toBeGreaterThan(0);
  });
});
