// The metered path with the real openai SDK against a local server speaking the
// Chat Completions streaming protocol. Concurrency at a limit, aborts, provider
// usage as the truth, provider errors, the cache, the global cap and kill switch.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { countTextTokens } from './tokens.ts';
import { COUNTER, userSubject } from '../metering/counters.ts';
import { addCredits } from '../metering/credits.ts';
import { dayStart, monthStart } from '../metering/periods.ts';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../../test/fakes/openai-server.ts';
import { eventually, send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';

let fake: FakeOpenAIServer;
let server: TestServer;
const MAX_TOKENS = 100;

beforeAll(async () => {
  fake = await startFakeOpenAIServer();
  server = await startTestServer(
    {
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: fake.baseUrl,
      OPENAI_MAX_RETRIES: '2',
      CHAT_MAX_TOKENS: String(MAX_TOKENS),
      // The allowance-nearly-spent cases below leave room for a short reply, not for 64 tokens.
      CHAT_MIN_COMPLETION_TOKENS: '16',
      CHAT_CACHE_TTL_SECONDS: '60',
      OPENAI_TIMEOUT_MS: '5000',
    },
    {
      limits: {
        chat: { points: 10_000, duration: 60 },
        chatIp: { points: 10_000, duration: 60 },
        guestIp: { points: 10_000, duration: 60 },
        signUpIp: { points: 10_000, duration: 60 },
      },
    },
  );
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});
beforeEach(async () => {
  fake.reset();
  fake.setDefault({});
  await server.deps.prisma.appSettings.update({ where: { id: 1 }, data: { killSwitch: false, maxTokensPerDay: null } });
});

let n = 0;
async function newUser(): Promise<{ b: TestBrowser; id: string }> {
  const b = server.browser({ ip: `10.20.${Math.floor(++n / 250)}.${n % 250}` });
  const { user } = await b.trpc.auth.signUp.mutate({ email: `chat${n}-${Date.now()}@example.com`, password: 'correct horse battery' });
  return { b, id: user.id };
}

async function setCounter(userId: string, kind: string, period: Date, used: number) {
  await server.deps.prisma.$executeRaw(Prisma.sql`
    INSERT INTO quota_counters (subject, kind, period_start, used) VALUES (${userSubject(userId)}, ${kind}, ${period}::timestamptz, ${used}::bigint)
    ON CONFLICT (subject, kind, period_start) DO UPDATE SET used = EXCLUDED.used`);
}

async function ledgerConsistent(userId: string) {
  const [row] = await server.deps.prisma.$queryRaw<{ balance: bigint | null; sum: bigint | null; min: bigint | null }[]>(Prisma.sql`
    SELECT (SELECT balance_tokens FROM credit_accounts WHERE user_id = ${userId}::uuid) AS balance,
           (SELECT COALESCE(SUM(delta_tokens), 0) FROM credit_ledger WHERE user_id = ${userId}::uuid)::bigint AS sum,
           (SELECT MIN(balance_after) FROM credit_ledger WHERE user_id = ${userId}::uuid) AS min`);
  expect(row!.balance ?? 0n).toBe(row!.sum);
  expect((row!.min ?? 0n) >= 0n).toBe(true);
  return row!.balance ?? 0n;
}

describe('provider usage is the truth', () => {
  it('settles with the usage the provider reports, not our estimate', async () => {
    const { b, id } = await newUser();
    fake.enqueue({ reply: 'Four words right here.', usage: { prompt_tokens: 1234, completion_tokens: 56, cached_tokens: 1000 } });
    const result = await send(b, { content: 'What is two plus two?' });
    expect(result.text).toBe('Four words right here.');
    expect(result.done?.usage).toMatchObject({ promptTokens: 1234, completionTokens: 56, totalTokens: 1290, estimated: false });
    const event = await server.deps.prisma.usageEvent.findFirstOrThrow({ where: { userId: id } });
    expect(event).toMatchObject({ promptTokens: 1234, completionTokens: 56, cachedTokens: 1000, status: 'ok', estimated: false, model: 'gpt-4o-mini' });
    // gpt-4o-mini: $0.15 / 1M input, $0.075 / 1M cached input, $0.60 / 1M output (from the pricing table)
    const price = server.deps.pricing.find((p) => p.model === 'gpt-4o-mini')!;
    const exact =
      (234 * price.inputMicrosPerMillion + 1000 * (price.cachedInputMicrosPerMillion ?? price.inputMicrosPerMillion) + 56 * price.outputMicrosPerMillion) / 1e6;
    expect(Number(event.costMicroUsd)).toBe(Math.ceil(exact));
    const summary = await b.trpc.usage.summary.query();
    expect(summary.used.tokensThisMonth).toBe(1290);
    // The request asked the provider for usage and carried our cap.
    expect(fake.requests[0]!.body).toMatchObject({ stream: true, stream_options: { include_usage: true }, model: 'gpt-4o-mini' });
  });

  it('explicit zero usage is zero, not an estimate', async () => {
    const { b, id } = await newUser();
    fake.enqueue({ reply: 'Free of charge.', usage: { prompt_tokens: 0, completion_tokens: 0 } });
    const result = await send(b, { content: 'zero please' });
    expect(result.done?.usage).toMatchObject({ totalTokens: 0, costMicroUsd: 0, estimated: false });
    const event = await server.deps.prisma.usageEvent.findFirstOrThrow({ where: { userId: id } });
    expect(event).toMatchObject({ promptTokens: 0, completionTokens: 0, estimated: false });
  });

  it('a stream without usage is settled on the tokenizer and marked estimated', async () => {
    const { b, id } = await newUser();
    fake.enqueue({ reply: 'No usage was reported for this answer.', usage: null });
    const result = await send(b, { content: 'no usage' });
    expect(result.done?.usage.estimated).toBe(true);
    const event = await server.deps.prisma.usageEvent.findFirstOrThrow({ where: { userId: id } });
    expect(event.estimated).toBe(true);
    expect(event.completionTokens).toBe(countTextTokens('gpt-4o-mini', 'No usage was reported for this answer.'));
  });
});

describe('aborts and disconnects', () => {
  it('stop after k chunks: a usage event charges exactly the relayed tokens and the upstream call is closed', async () => {
    const { b, id } = await newUser();
    const reply = 'one two three four five six seven eight nine ten eleven twelve';
    fake.enqueue({ reply, chunks: 12, chunkDelayMs: 80 });
    const result = await send(b, { content: 'count slowly' }, { stopAfterDeltas: 3 });
    expect(result.done).toBeUndefined();
    const event = await eventually(async () => {
      const e = await server.deps.prisma.usageEvent.findFirst({ where: { userId: id } });
      expect(e).not.toBeNull();
      return e!;
    });
    expect(event.status).toBe('aborted');
    expect(event.estimated).toBe(true);
    const message = await server.deps.prisma.message.findFirstOrThrow({ where: { userId: id, role: 'assistant' } });
    expect(message.status).toBe('aborted');
    expect(reply.startsWith(message.content)).toBe(true);
    expect(message.content.length).toBeGreaterThan(0);
    expect(message.content.length).toBeLessThan(reply.length);
    expect(event.completionTokens).toBe(countTextTokens('gpt-4o-mini', message.content));
    await eventually(async () => expect(fake.requests[0]!.clientClosed).toBe(true));
    const summary = await b.trpc.usage.summary.query();
    expect(summary.used.tokensThisMonth).toBe(event.promptTokens + event.completionTokens);
  });

  it('disconnect before the first token charges only the prompt', async () => {
    const { b, id } = await newUser();
    fake.enqueue({ reply: 'too late', firstByteDelayMs: 1_500 });
    await send(b, { content: 'are you there?' }, { abortAfterMs: 300 });
    const event = await eventually(async () => {
      const e = await server.deps.prisma.usageEvent.findFirst({ where: { userId: id } });
      expect(e).not.toBeNull();
      return e!;
    });
    expect(event).toMatchObject({ status: 'aborted', completionTokens: 0, estimated: true });
    expect(event.promptTokens).toBeGreaterThan(0);
    await eventually(async () => expect(fake.requests[0]!.clientClosed).toBe(true));
  });
});

describe('provider failures', () => {
  it('retries 429/503 before the first token, then succeeds', async () => {
    const { b } = await newUser();
    fake.enqueue({ status: 503 }, { status: 429, headers: { 'retry-after-ms': '50' } }, { reply: 'third time lucky' });
    const result = await send(b, { content: 'retry me' });
    expect(result.text).toBe('third time lucky');
    expect(fake.requests).toHaveLength(3);
  });

  it('a provider that stays down answers provider_unavailable and gives the message back', async () => {
    const { b, id } = await newUser();
    fake.setDefault({ status: 500 });
    const err = await trpcError(send(b, { content: 'hello?' }));
    expect(err).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'provider_unavailable' });
    const summary = await b.trpc.usage.summary.query();
    expect(summary.used).toMatchObject({ messagesToday: 0, tokensThisMonth: 0 });
    const event = await server.deps.prisma.usageEvent.findFirstOrThrow({ where: { userId: id } });
    expect(event).toMatchObject({ status: 'error', promptTokens: 0, completionTokens: 0 });
  });

  it('a stream dropped mid-way settles what was relayed and reports the failure', async () => {
    const { b, id } = await newUser();
    fake.enqueue({ reply: 'alpha beta gamma delta epsilon zeta', chunks: 6, dropAfterChunks: 2, chunkDelayMs: 20 });
    const err = await trpcError(send(b, { content: 'drop me' }));
    expect(err.reason).toBe('provider_unavailable');
    const event = await server.deps.prisma.usageEvent.findFirstOrThrow({ where: { userId: id } });
    expect(event).toMatchObject({ status: 'error', estimated: true });
    expect(event.completionTokens).toBeGreaterThan(0);
  });
});

describe('concurrency at a limit', () => {
  it('50 concurrent sends with 3 messages left: exactly 3 succeed, the rest get quota_exhausted', async () => {
    const { b, id } = await newUser();
    await setCounter(id, COUNTER.messagesDay, dayStart(new Date()), 20 - 3);
    fake.setDefault({ reply: 'ok', firstByteDelayMs: 50 });
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => send(b, { content: `message ${i}` })));
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok).toHaveLength(3);
    for (const r of results) {
      if (r.status === 'rejected') expect((r.reason as { data?: { reason?: string } }).data?.reason).toBe('quota_exhausted');
    }
    const summary = await b.trpc.usage.summary.query();
    expect(summary.used.messagesToday).toBe(20);
    expect(await server.deps.prisma.usageEvent.count({ where: { userId: id } })).toBe(3);
  });

  it('50 concurrent sends near the monthly token limit never take the counter past it', async () => {
    const { b, id } = await newUser();
    const limit = 100_000;
    await setCounter(id, COUNTER.tokensMonth, monthStart(new Date()), limit - 400);
    fake.setDefault({ reply: 'short', firstByteDelayMs: 100, usage: null });
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => send(b, { content: `tokens ${i}` })));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(ok).toBeLessThan(50);
    for (const r of results) {
      if (r.status === 'rejected') expect((r.reason as { data?: { reason?: string } }).data?.reason).toBe('quota_exhausted');
    }
    const summary = await b.trpc.usage.summary.query();
    expect(summary.used.tokensThisMonth).toBeLessThanOrEqual(limit);
    // Every reservation capped the completion at what the allowance still covered.
    for (const request of fake.requests) expect(request.body.max_tokens ?? request.body.max_completion_tokens).toBeLessThanOrEqual(MAX_TOKENS);
  });

  it('50 concurrent sends paid from credits: the balance never goes below zero and equals its ledger', async () => {
    const { b, id } = await newUser();
    await setCounter(id, COUNTER.tokensMonth, monthStart(new Date()), 100_000);
    // Room for three full reservations (prompt estimate + MAX_TOKENS each) and not a fourth.
    await server.deps.prisma.$transaction((tx) => addCredits(tx, { userId: id, kind: 'grant', reason: 'test credits' }, 3n * 140n));
    fake.setDefault({ reply: 'paid', firstByteDelayMs: 150, usage: { prompt_tokens: 30, completion_tokens: 100 } });
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => send(b, { content: `credit ${i}` })));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(ok).toBeLessThanOrEqual(3);
    for (const r of results) {
      if (r.status === 'rejected') expect(['credits_exhausted', 'quota_exhausted']).toContain((r.reason as { data?: { reason?: string } }).data?.reason);
    }
    const balance = await ledgerConsistent(id);
    expect(balance).toBe(3n * 140n - BigInt(ok) * 130n);
    const events = await server.deps.prisma.usageEvent.findMany({ where: { userId: id } });
    expect(events.reduce((s, e) => s + e.creditTokens, 0n)).toBe(BigInt(ok) * 130n);
  });
});

describe('global controls', () => {
  it('the kill switch refuses new chats', async () => {
    const { b } = await newUser();
    await server.deps.prisma.appSettings.update({ where: { id: 1 }, data: { killSwitch: true } });
    expect(await trpcError(send(b, { content: 'hi' }))).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'kill_switch' });
    expect(fake.requests).toHaveLength(0);
  });

  it('the global daily cap refuses chats that would pass it', async () => {
    const { b } = await newUser();
    await server.deps.prisma.appSettings.update({ where: { id: 1 }, data: { maxTokensPerDay: 10n } });
    const err = await trpcError(send(b, { content: 'hi' }));
    expect(err).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'global_cap' });
    expect(err.data.retryAfterSeconds).toBeGreaterThan(0);
    expect((await b.trpc.usage.summary.query()).used.messagesToday).toBe(0);
  });
});

describe('guests and the cache', () => {
  it('guests are limited per IP across guest sessions', async () => {
    const ip = '10.99.0.1';
    const guestLimit = server.deps.plans.find((p) => p.id === 'guest')!.limits.messagesPerDay;
    for (let i = 0; i < guestLimit; i++) await send(server.browser({ ip }), { content: `guest ${i}` });
    const err = await trpcError(send(server.browser({ ip }), { content: 'one more' }));
    expect(err).toMatchObject({ code: 'PAYMENT_REQUIRED', reason: 'quota_exhausted' });
    expect(err.data.upgrade).toBe(true);
    await send(server.browser({ ip: '10.99.0.2' }), { content: 'another network' });
  });

  it('an identical single-turn prompt is answered from cache: the message counts, the tokens cost nothing', async () => {
    const { b, id } = await newUser();
    fake.enqueue({ reply: 'Paris.' });
    const first = await send(b, { content: 'What is the capital of France, exactly?' });
    const second = await send(b, { content: 'What is the capital of France, exactly?' });
    expect(second.text).toBe(first.text);
    expect(second.done).toMatchObject({ cached: true, usage: { totalTokens: 0, costMicroUsd: 0 } });
    expect(fake.requests).toHaveLength(1);
    const summary = await b.trpc.usage.summary.query();
    expect(summary.used.messagesToday).toBe(2);
    expect(summary.used.tokensThisMonth).toBe(first.done!.usage.totalTokens);
    const statuses = (await server.deps.prisma.usageEvent.findMany({ where: { userId: id }, orderBy: { id: 'asc' } })).map((e) => e.status);
    expect(statuses).toEqual(['ok', 'cached']);
  });

  // A cut reply is the asker's own: a shared cache must never hand it to someone else.
  it('a reply cut short by a nearly spent allowance is not cached: the next user gets a fresh full reply', async () => {
    const question = 'Which rivers flow through Paris?';
    const a = await newUser();
    await setCounter(a.id, COUNTER.tokensMonth, monthStart(new Date()), 100_000 - 100);
    fake.enqueue({ reply: 'The Seine and', finishReason: 'length' });
    const cut = await send(a.b, { content: question });
    expect(cut.start!.maxTokens).toBeLessThan(MAX_TOKENS);
    expect(fake.requests[0]!.body.max_tokens ?? fake.requests[0]!.body.max_completion_tokens).toBe(cut.start!.maxTokens);
    expect(cut.text).toBe('The Seine and');
    expect(cut.done).toMatchObject({ finishReason: 'length', limitedBy: 'tokensPerMonth', degradedFrom: null });

    const b = await newUser();
    fake.enqueue({ reply: 'The Seine and the Marne, which joins it just upstream.' });
    const full = await send(b.b, { content: question });
    expect(fake.requests).toHaveLength(2);
    expect(full.text).toBe('The Seine and the Marne, which joins it just upstream.');
    expect(full.done).toMatchObject({ cached: false, status: 'ok' });
    expect(full.done!.usage.totalTokens).toBeGreaterThan(0);

    // That complete answer, under the full cap, is the one the cache keeps.
    const c = await newUser();
    const again = await send(c.b, { content: question });
    expect(again.done).toMatchObject({ cached: true });
    expect(again.text).toBe(full.text);
    expect(fake.requests).toHaveLength(2);
  });

  it('a reply under a lowered cap is not cached even when it ended normally', async () => {
    const question = 'Name one bridge in Paris.';
    const a = await newUser();
    await setCounter(a.id, COUNTER.tokensMonth, monthStart(new Date()), 100_000 - 100);
    fake.enqueue({ reply: 'Pont Neuf.' });
    const first = await send(a.b, { content: question });
    expect(first.start!.maxTokens).toBeLessThan(MAX_TOKENS);
    const b = await newUser();
    fake.enqueue({ reply: 'The Pont Neuf, the oldest standing bridge across the Seine.' });
    const second = await send(b.b, { content: question });
    expect(second.done).toMatchObject({ cached: false });
    expect(second.text).toBe('The Pont Neuf, the oldest standing bridge across the Seine.');
    expect(fake.requests).toHaveLength(2);
  });

  it.each([
    ['length', { finishReason: 'length' }],
    ['content_filter', { finishReason: 'content_filter' }],
    ['a refusal', { refusal: "I can't help with that." }],
    ['no finish reason', { finishReason: null }],
  ] as const)('a reply that ended with %s is not cached', async (label, behaviour) => {
    const question = `Tell me a short fact (${label}).`;
    const a = await newUser();
    fake.enqueue({ reply: 'Half a fact', ...behaviour });
    const first = await send(a.b, { content: question });
    expect(first.start!.maxTokens).toBe(MAX_TOKENS);
    // A refusal is relayed as the reply (it is the model's answer; see providers/openai.ts).
    expect(first.text).toBe(`Half a fact${'refusal' in behaviour ? behaviour.refusal : ''}`);
    const b = await newUser();
    fake.enqueue({ reply: 'A whole fact, told to the end.' });
    const second = await send(b.b, { content: question });
    expect(second.done).toMatchObject({ cached: false });
    expect(second.text).toBe('A whole fact, told to the end.');
    expect(fake.requests).toHaveLength(2);
  });

  it('sends the conversation history with the system prompt', async () => {
    const { b } = await newUser();
    const first = await send(b, { content: 'first' });
    const conversationId = first.start!.conversationId;
    for (let i = 0; i < 3; i++) await send(b, { content: `turn ${i}`, conversationId });
    const last = fake.requests.at(-1)!.body.messages as { role: string; content: string }[];
    expect(last[0]).toMatchObject({ role: 'system' });
    expect(last.at(-1)).toMatchObject({ role: 'user', content: 'turn 2' });
    // system + the six earlier messages + the new one (trimming to the window is covered in context-window.test.ts)
    expect(last.length).toBe(1 + 6 + 1);
  });
});
