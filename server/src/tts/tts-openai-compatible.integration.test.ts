// TTS_ENGINE=openai-compatible against a local fake POST /v1/audio/speech that answers
// real MP3 bytes: the audio path, the dollar metering of a priced engine (cost in the
// usage event, usage history, export, admin analytics), cache hits not charged twice,
// failures released without charge, the kill switch and the global token cap; the global
// dollar caps and the personal spending limit hold a clip's cost (under concurrency too).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import { ttsCostMicroUsd } from '@chatmeter/shared/money';
import { prepareText, speechChars } from '@chatmeter/shared/speech-text';
import { COUNTER, GLOBAL_SUBJECT, read, userSubject } from '../metering/counters.ts';
import { dayStart, monthStart } from '../metering/periods.ts';
import { person } from '../../test/helpers/admin.ts';
import { SPEECH_FIXTURE, startFakeSpeechServer, type FakeSpeechServer } from '../../test/fakes/speech-server.ts';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';

/** An odd price, so the rounding rule shows: ceil(chars * price / 1e6). */
const PRICE = 12_345_678;
const API_KEY = 'sk-fake-speech-key';

let fake: FakeSpeechServer;
let dir: string;
let server: TestServer;
let nextIp = 1;

beforeAll(async () => {
  fake = await startFakeSpeechServer();
  dir = await mkdtemp(path.join(os.tmpdir(), 'chatmeter-tts-openai-'));
  const pricingFile = path.join(dir, 'pricing.json');
  await writeFile(
    pricingFile,
    JSON.stringify([
      { model: 'demo', inputMicrosPerMillion: 150_000, outputMicrosPerMillion: 600_000, contextWindow: 128_000, maxOutputTokens: 16_384 },
      { model: 'tts-fake', label: 'Fake TTS', kind: 'tts', microsPerMillionChars: PRICE },
    ]),
  );
  server = await startTestServer({
    DATA_DIR: path.join(dir, 'data'),
    PRICING_FILE: pricingFile,
    TTS_ENGINE: 'openai-compatible',
    TTS_BASE_URL: fake.baseUrl,
    TTS_API_KEY: API_KEY,
    TTS_MODEL: 'tts-fake',
    TTS_DEFAULT_VOICE: 'af_bella',
    TTS_TIMEOUT_MS: '1000',
  });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await server.deps.prisma.appSettings.upsert({
    where: { id: 1 },
    create: { id: 1 },
    update: { killSwitch: false, maxTokensPerDay: null, maxCostPerDayMicroUsd: null, maxCostPerMonthMicroUsd: null },
  });
});

async function guestWithAnswer(content = 'Hello! Read me something short.'): Promise<{ b: TestBrowser; messageId: string; text: string; userId: string }> {
  const b = server.browser({ ip: `10.61.0.${nextIp++}` });
  const result = await send(b, { content });
  const me = await b.trpc.auth.me.query();
  return { b, messageId: result.start!.messageId, text: result.text, userId: me!.id };
}

const ttsToday = (userId: string) => read(server.deps.prisma, userSubject(userId), COUNTER.ttsCharsDay, dayStart(new Date()));
const globalCostToday = () => read(server.deps.prisma, GLOBAL_SUBJECT, COUNTER.globalCostDay, dayStart(new Date()));
const globalCostThisMonth = () => read(server.deps.prisma, GLOBAL_SUBJECT, COUNTER.globalCostMonth, monthStart(new Date()));
// Guests and free accounts have no subscription, so their month is the calendar month.
const spendThisMonth = (userId: string) => read(server.deps.prisma, userSubject(userId), COUNTER.spendMonth, monthStart(new Date()));
const heldVoice = () => server.deps.prisma.reservation.count({ where: { kind: 'tts', status: 'held' } });
const events = (userId: string) => server.deps.prisma.usageEvent.findMany({ where: { userId, kind: 'tts' }, orderBy: { id: 'asc' } });

/** Concurrent readings split by outcome: the costs of those spoken, and each refusal with the cost it would have had. */
function outcomes(results: PromiseSettledResult<unknown>[], costs: number[]) {
  return {
    spoken: results.flatMap((r, i) => (r.status === 'fulfilled' ? [costs[i]!] : [])),
    refused: results.flatMap((r, i) => (r.status === 'rejected' ? [{ error: r.reason as unknown, cost: costs[i]! }] : [])),
  };
}

describe('tts.voices', () => {
  it("lists the speech server's own voices, each carrying its engine, with the engine's price", async () => {
    const voices = await server.browser().trpc.tts.voices.query();
    expect(voices.engine).toBe('openai-compatible:tts-fake');
    expect(voices.microsPerMillionChars).toBe(PRICE);
    expect(voices.defaultVoice).toBe('af_bella');
    expect(voices.voices).toEqual([
      { id: 'af_bella', name: 'af_bella', language: 'en-US', engine: 'openai-compatible' },
      { id: 'am_adam', name: 'am_adam', language: 'en-US', engine: 'openai-compatible' },
      { id: 'bf_emma', name: 'bf_emma', language: 'en-GB', engine: 'openai-compatible' },
      { id: 'ff_siwis', name: 'ff_siwis', language: 'fr', engine: 'openai-compatible' },
    ]);
    const asked = fake.requests.find((r) => r.path === '/v1/audio/voices');
    expect(asked?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    // No local worker, so no worker gauges (and no "TTS worker down" alert).
    expect(await server.deps.metrics.registry.metrics()).not.toContain('chatmeter_tts_worker_up');
  });
});

describe('tts.voices from TTS_VOICES', () => {
  it("lists TTS_VOICES when the server has no list (OpenAI's case), priced from the built-in table", async () => {
    fake.setVoices(null);
    const openai = await startTestServer({
      DATA_DIR: path.join(dir, 'data-openai'),
      TTS_ENGINE: 'openai-compatible',
      TTS_BASE_URL: fake.baseUrl,
      TTS_API_KEY: API_KEY,
      TTS_MODEL: 'tts-1',
      TTS_VOICES: 'alloy,nova:de',
      TTS_DEFAULT_VOICE: 'nova',
    });
    try {
      const voices = await openai.browser().trpc.tts.voices.query();
      expect(voices).toEqual({
        engine: 'openai-compatible:tts-1',
        defaultVoice: 'nova',
        microsPerMillionChars: 15_000_000,
        voices: [
          { id: 'alloy', name: 'alloy', language: 'en', engine: 'openai-compatible' },
          { id: 'nova', name: 'nova', language: 'de', engine: 'openai-compatible' },
        ],
      });
    } finally {
      await openai.close();
      fake.setVoices({ voices: ['af_bella', 'am_adam', 'bf_emma', 'ff_siwis'] });
    }
  });
});

describe('tts.speak with a priced OpenAI-compatible engine', () => {
  it('speaks through POST /v1/audio/speech, serves its MP3, and meters chars x price / 1e6 rounded up', async () => {
    const owner = await guestWithAnswer();
    const before = fake.speeches().length;
    const summaryBefore = await owner.b.trpc.usage.summary.query();
    const spoken = await owner.b.trpc.tts.speak.mutate({ messageId: owner.messageId });
    const chars = speechChars(owner.text, { language: 'en-US' });
    expect(spoken).toMatchObject({ chars, voice: 'af_bella', mime: 'audio/mpeg', cached: false, costMicroUsd: ttsCostMicroUsd(chars, PRICE) });
    // The duration is read from the MP3's frames (the fixture is 2038 ms of speech; frames round up).
    expect(spoken.durationMs).toBeGreaterThanOrEqual(2_038);
    expect(spoken.durationMs).toBeLessThan(2_200);

    // What was sent: the prepared text the characters were counted on, with the key and model.
    expect(fake.speeches()).toHaveLength(before + 1);
    const request = fake.speeches().at(-1)!;
    expect(request.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request.body).toEqual({ model: 'tts-fake', voice: 'af_bella', input: prepareText(owner.text, { language: 'en-US' }), response_format: 'mp3' });

    const res = await owner.b.fetch(spoken.audioUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    expect(Buffer.from(await res.arrayBuffer()).equals(SPEECH_FIXTURE)).toBe(true);

    // The cost, exactly: ceil(chars * 12_345_678 / 1e6), computed here without the helper too.
    const cost = ttsCostMicroUsd(chars, PRICE);
    expect(cost).toBe(Number((BigInt(chars) * BigInt(PRICE) + 999_999n) / 1_000_000n));
    expect(cost).toBeGreaterThan(0);
    const recorded = await events(owner.userId);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ status: 'ok', ttsChars: chars, costMicroUsd: BigInt(cost), model: 'openai-compatible:tts-fake' });
    expect(await ttsToday(owner.userId)).toBe(BigInt(chars));

    // It shows where chat cost does: usage history, the export, the admin's analytics.
    const history = await owner.b.trpc.usage.history.query();
    expect(history.items.find((i) => i.kind === 'tts')).toMatchObject({ ttsChars: chars, costMicroUsd: cost });
    const exported = (await (await owner.b.fetch('/export/usage.json')).json()) as { items: { kind: string; costMicroUsd: number }[] };
    expect(exported.items.find((i) => i.kind === 'tts')?.costMicroUsd).toBe(cost);
    const overview = await server.deps.overview.overview(1, new Date());
    const voiceRow = overview.byModel.find((m) => m.kind === 'tts' && m.model === 'openai-compatible:tts-fake');
    expect(voiceRow?.costMicroUsd).toBeGreaterThanOrEqual(cost);
    // And in usage.summary's cost this period (chat and voice, the sum usage.history shows).
    const summary = await owner.b.trpc.usage.summary.query();
    expect(summary.used.costThisPeriodMicroUsd - summaryBefore.used.costThisPeriodMicroUsd).toBe(cost);
    expect(summary.costMicroUsd.thisMonth - summaryBefore.costMicroUsd.thisMonth).toBe(cost);
    expect(summary.used.costThisPeriodMicroUsd).toBe(history.items.reduce((sum, i) => sum + i.costMicroUsd, 0));

    // A cache hit: no request to the speech server, the characters count, the dollars do not.
    const again = await owner.b.trpc.tts.speak.mutate({ messageId: owner.messageId });
    expect(again).toMatchObject({ cached: true, audioUrl: spoken.audioUrl, chars, costMicroUsd: 0 });
    // The metric counts the synthesis' dollars once.
    const metrics = await server.deps.metrics.registry.getSingleMetricAsString('chatmeter_tts_cost_usd_total');
    expect(metrics).toContain(`chatmeter_tts_cost_usd_total ${ttsCostMicroUsd(chars, PRICE) / 1_000_000}`);
    expect(fake.speeches()).toHaveLength(before + 1);
    const after = await events(owner.userId);
    expect(after.map((e) => [e.status, e.costMicroUsd])).toEqual([
      ['ok', BigInt(cost)],
      ['cached', 0n],
    ]);
    expect(await ttsToday(owner.userId)).toBe(BigInt(2 * chars));
  });

  it('429 with Retry-After is tts_busy with retryAfterSeconds; nothing charged, the reservation released', async () => {
    const guest = await guestWithAnswer('Say something, slowly.');
    fake.enqueue({
      status: 429,
      headers: { 'retry-after': '7' },
      error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' },
    });
    const error = await trpcError(guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId }));
    expect(error).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'tts_busy' });
    expect(error.data.retryAfterSeconds).toBe(7);
    await expectReleased(guest.userId);
  });

  it('an account out of credit (429 insufficient_quota) is provider_unavailable, not "try again shortly"', async () => {
    const guest = await guestWithAnswer('Anything at all.');
    fake.enqueue({ status: 429, error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } });
    expect(await trpcError(guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId }))).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      reason: 'provider_unavailable',
    });
    await expectReleased(guest.userId);
  });

  it('500 and a timeout are provider_unavailable without charge', async () => {
    const guest = await guestWithAnswer('Tell me a fact.');
    fake.enqueue({ status: 500 });
    expect(await trpcError(guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId }))).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      reason: 'provider_unavailable',
    });
    await expectReleased(guest.userId);

    // TTS_TIMEOUT_MS is 1 s; the fake answers after 3 s.
    fake.enqueue({ delayMs: 3_000 });
    expect(await trpcError(guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId }))).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      reason: 'provider_unavailable',
    });
    await expectReleased(guest.userId);

    // The engine is back: the same answer is spoken and charged once.
    const spoken = await guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId });
    expect(spoken.cached).toBe(false);
    const recorded = await events(guest.userId);
    expect(recorded.map((e) => [e.status, e.costMicroUsd])).toEqual([
      ['error', 0n],
      ['error', 0n],
      ['ok', BigInt(ttsCostMicroUsd(spoken.chars, PRICE))],
    ]);
  });

  it('the kill switch and a reached global daily cap refuse a priced synthesis before the engine is asked', async () => {
    const guest = await guestWithAnswer('One more answer to read.');
    const before = fake.speeches().length;
    await server.deps.prisma.appSettings.update({ where: { id: 1 }, data: { killSwitch: true } });
    expect(await trpcError(guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId }))).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      reason: 'kill_switch',
    });

    await server.deps.prisma.appSettings.update({ where: { id: 1 }, data: { killSwitch: false, maxTokensPerDay: 1n } });
    // The guest's own chat message used global tokens today, so a cap of 1 is reached.
    expect(await read(server.deps.prisma, GLOBAL_SUBJECT, COUNTER.globalTokensDay, dayStart(new Date()))).toBeGreaterThan(1n);
    const capped = await trpcError(guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId }));
    expect(capped).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'global_cap' });
    expect(capped.data.retryAfterSeconds).toBeGreaterThan(0);

    expect(fake.speeches()).toHaveLength(before);
    expect(await ttsToday(guest.userId)).toBe(0n);
    expect(await events(guest.userId)).toEqual([]);

    await server.deps.prisma.appSettings.update({ where: { id: 1 }, data: { maxTokensPerDay: null } });
    expect((await guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId })).cached).toBe(false);
  });
});

describe('tts.speak and the dollar caps', () => {
  it("holds a priced clip's cost on the global day and month caps and the user's spend_month, settled to the real cost; a failure gives it back", async () => {
    const guest = await guestWithAnswer('What is the dollar cost of voice?');
    const cost = ttsCostMicroUsd(speechChars(guest.text, { language: 'en-US' }), PRICE);
    const before = { day: await globalCostToday(), month: await globalCostThisMonth(), spend: await spendThisMonth(guest.userId) };

    fake.enqueue({ status: 500 });
    expect(await trpcError(guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId }))).toMatchObject({ reason: 'provider_unavailable' });
    expect({ day: await globalCostToday(), month: await globalCostThisMonth(), spend: await spendThisMonth(guest.userId) }).toEqual(before);
    const released = await server.deps.prisma.reservation.findFirstOrThrow({ where: { userId: guest.userId, kind: 'tts' }, orderBy: { createdAt: 'desc' } });
    expect(released).toMatchObject({ status: 'released', costMicroUsd: BigInt(cost) });

    expect(await guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId })).toMatchObject({ cached: false, costMicroUsd: cost });
    expect({ day: await globalCostToday(), month: await globalCostThisMonth(), spend: await spendThisMonth(guest.userId) }).toEqual({
      day: before.day + BigInt(cost),
      month: before.month + BigInt(cost),
      spend: before.spend + BigInt(cost),
    });
    // A cache hit costs nothing, so it holds nothing either.
    expect((await guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId })).cached).toBe(true);
    expect(await globalCostToday()).toBe(before.day + BigInt(cost));
    expect(await heldVoice()).toBe(0);

    // The admin sees voice in what is used.
    const admin = await person(server, 'admin');
    expect(await admin.b.trpc.admin.settings.query()).toMatchObject({
      costUsedTodayMicroUsd: Number(before.day) + cost,
      costUsedThisMonthMicroUsd: Number(before.month) + cost,
    });
  });

  it('a reservation the sweep released before the clip settled counts its cost again when it settles', async () => {
    const guest = await guestWithAnswer('Sweep me while I am being read.');
    const chars = speechChars(guest.text, { language: 'en-US' });
    const cost = ttsCostMicroUsd(chars, PRICE);
    const before = { day: await globalCostToday(), spend: await spendThisMonth(guest.userId) };
    const charge = {
      userId: guest.userId,
      isGuest: true,
      planName: 'Guest',
      limit: 1_000_000,
      chars,
      requestId: 'sweep-then-settle',
      conversationId: (await server.deps.prisma.message.findUniqueOrThrow({ where: { id: guest.messageId }, select: { conversationId: true } })).conversationId,
      messageId: guest.messageId,
      costMicroUsd: cost,
      spend: { defaultDailyTokenCap: server.deps.env.MAX_TOKENS_PER_DAY },
    };
    const meter = server.deps.tts.meter;
    const id = await meter.reserve(charge, -1_000);
    expect(await globalCostToday()).toBe(before.day + BigInt(cost));
    expect(await meter.releaseExpired()).toBeGreaterThanOrEqual(1);
    expect({ day: await globalCostToday(), spend: await spendThisMonth(guest.userId) }).toEqual(before);
    await meter.settle(
      id,
      charge,
      {
        cacheKey: `sweep-${id}`,
        voice: 'af_bella',
        engine: 'openai-compatible:tts-fake',
        format: 'mp3',
        mime: 'audio/mpeg',
        bytes: 1,
        durationMs: 1,
        chars,
        synthesisMs: 1,
      },
      1,
    );
    expect({ day: await globalCostToday(), spend: await spendThisMonth(guest.userId) }).toEqual({
      day: before.day + BigInt(cost),
      spend: before.spend + BigInt(cost),
    });
  });

  it('a reached monthly cap or personal limit refuses voice before the engine is asked, holding nothing', async () => {
    const guest = await guestWithAnswer('Read this within the month, please.');
    const speeches = fake.speeches().length;
    await server.deps.prisma.appSettings.update({ where: { id: 1 }, data: { maxCostPerMonthMicroUsd: await globalCostThisMonth() } });
    const before = { day: await globalCostToday(), month: await globalCostThisMonth(), spend: await spendThisMonth(guest.userId) };
    const month = await trpcError(guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId }));
    expect(month).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'global_cap' });
    expect(month.data.limit).toBe('globalCostPerMonth');
    expect(new Date(month.data.resetAt as string).getUTCDate()).toBe(1);
    expect(month.data.retryAfterSeconds).toBeGreaterThan(0);
    expect({ day: await globalCostToday(), month: await globalCostThisMonth(), spend: await spendThisMonth(guest.userId) }).toEqual(before);
    expect(await ttsToday(guest.userId)).toBe(0n);
    await server.deps.prisma.appSettings.update({ where: { id: 1 }, data: { maxCostPerMonthMicroUsd: null } });

    // An account's own limit, set at what its chat has already spent this month.
    const user = await person(server);
    const answer = await send(user.b, { content: 'Something for my own budget.' });
    const spent = await spendThisMonth(user.id);
    expect(spent).toBeGreaterThan(0n);
    await server.deps.prisma.userPreference.create({ data: { userId: user.id, monthlySpendLimitMicroUsd: spent } });
    const dayBefore = await globalCostToday();
    const personal = await trpcError(user.b.trpc.tts.speak.mutate({ messageId: answer.start!.messageId }));
    expect(personal).toMatchObject({ reason: 'quota_exhausted' });
    expect(personal.data).toMatchObject({ limit: 'personalSpendLimit', upgrade: false });
    expect(await spendThisMonth(user.id)).toBe(spent);
    expect(await globalCostToday()).toBe(dayBefore);
    expect(fake.speeches()).toHaveLength(speeches);

    // Raised by the clip's cost exactly, it fits.
    const cost = ttsCostMicroUsd(speechChars(answer.text, { language: 'en-US' }), PRICE);
    await server.deps.prisma.userPreference.update({ where: { userId: user.id }, data: { monthlySpendLimitMicroUsd: spent + BigInt(cost) } });
    expect(await user.b.trpc.tts.speak.mutate({ messageId: answer.start!.messageId })).toMatchObject({ cached: false, costMicroUsd: cost });
    expect(await spendThisMonth(user.id)).toBe(spent + BigInt(cost));
  });

  it('concurrent readings never take the global daily dollar cap past its limit, and each refusal was needed', async () => {
    const guests = [];
    for (let i = 0; i < 8; i++) guests.push(await guestWithAnswer(`Concurrent reading number ${i}: tell me about the number ${i * 7919}.`));
    const costs = guests.map((g) => ttsCostMicroUsd(speechChars(g.text, { language: 'en-US' }), PRICE));
    expect(new Set(guests.map((g) => g.text)).size).toBe(guests.length);
    const start = await globalCostToday();
    // Room for about half of them.
    const cap = start + BigInt(Math.floor(costs.reduce((a, b) => a + b, 0) / 2));
    await server.deps.prisma.appSettings.update({ where: { id: 1 }, data: { maxCostPerDayMicroUsd: cap } });
    const speeches = fake.speeches().length;

    const results = await Promise.allSettled(guests.map((g) => g.b.trpc.tts.speak.mutate({ messageId: g.messageId })));
    const { spoken, refused } = outcomes(results, costs);
    expect(spoken.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      const error = await trpcError(Promise.reject(r.error));
      expect(error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'global_cap' });
      expect(error.data.limit).toBe('globalCostPerDay');
    }
    const end = await globalCostToday();
    // Never past the cap; exactly the clips that were spoken; none refused that would have fitted.
    expect(end <= cap).toBe(true);
    expect(end).toBe(start + BigInt(spoken.reduce((a, b) => a + b, 0)));
    for (const r of refused) expect(end + BigInt(r.cost) > cap).toBe(true);
    expect(fake.speeches()).toHaveLength(speeches + spoken.length);
    expect(await heldVoice()).toBe(0);
  });
});

describe("tts.speak and the plan's dollar cap", () => {
  const planCostThisMonth = (userId: string) => read(server.deps.prisma, userSubject(userId), COUNTER.costMonth, monthStart(new Date()));

  it('voice spends the plan’s dollars as chat does: concurrent readings never take cost_month past the cap, each refusal names costPerMonth', async () => {
    const user = await person(server);
    const cap = (await user.b.trpc.usage.summary.query()).limits.costPerMonthMicroUsd;
    expect(cap).toBeGreaterThan(0);
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await send(user.b, { content: `Plan cap reading ${i}: tell me about the number ${i * 7919}.` }));
    const costs = answers.map((a) => ttsCostMicroUsd(speechChars(a.text, { language: 'en-US' }), PRICE));
    // Room on the plan's cap for about half of them (the counter holds the month's chat too).
    const start = BigInt(cap! - Math.floor(costs.reduce((a, b) => a + b, 0) / 2));
    await server.deps.prisma.$executeRaw(Prisma.sql`
      UPDATE quota_counters SET used = ${start}::bigint
       WHERE subject = ${userSubject(user.id)} AND kind = 'cost_month' AND period_start = ${monthStart(new Date())}::timestamptz`);
    expect(await planCostThisMonth(user.id)).toBe(start);
    const speeches = fake.speeches().length;

    const results = await Promise.allSettled(answers.map((a) => user.b.trpc.tts.speak.mutate({ messageId: a.start!.messageId })));
    const { spoken, refused } = outcomes(results, costs);
    expect(spoken.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      const error = await trpcError(Promise.reject(r.error));
      expect(error).toMatchObject({ code: 'PAYMENT_REQUIRED', reason: 'quota_exhausted' });
      expect(error.data).toMatchObject({ limit: 'costPerMonth', upgrade: true });
      expect(error.message).toContain('plan may spend this month');
    }
    const end = await planCostThisMonth(user.id);
    // Never past the cap; exactly the clips that were spoken (settled at their real cost); none refused that would have fitted.
    expect(end <= BigInt(cap!)).toBe(true);
    expect(end).toBe(start + BigInt(spoken.reduce((a, b) => a + b, 0)));
    for (const r of refused) expect(end + BigInt(r.cost) > BigInt(cap!)).toBe(true);
    expect(fake.speeches()).toHaveLength(speeches + spoken.length);
    expect(await heldVoice()).toBe(0);
    // usage.summary's budget shows what is left of the cap, voice included.
    expect((await user.b.trpc.usage.summary.query()).budget.remainingMicroUsd).toBe(cap! - Number(end));
  });

  it('a failed reading gives the plan’s dollars back', async () => {
    const user = await person(server);
    const answer = await send(user.b, { content: 'Fail to read me aloud, please.' });
    const before = await planCostThisMonth(user.id);
    fake.enqueue({ status: 500 });
    expect(await trpcError(user.b.trpc.tts.speak.mutate({ messageId: answer.start!.messageId }))).toMatchObject({ reason: 'provider_unavailable' });
    expect(await planCostThisMonth(user.id)).toBe(before);
    const released = await server.deps.prisma.reservation.findFirstOrThrow({ where: { userId: user.id, kind: 'tts' }, orderBy: { createdAt: 'desc' } });
    expect(released.status).toBe('released');
    expect(released.planCostMicroUsd).toBeGreaterThan(0n);
  });
});

/** The last attempt gave its characters back: counter at zero, its reservation released, its event free. */
async function expectReleased(userId: string): Promise<void> {
  expect(await ttsToday(userId)).toBe(0n);
  const reservations = await server.deps.prisma.reservation.findMany({ where: { userId, kind: 'tts' }, select: { status: true } });
  expect(reservations.length).toBeGreaterThan(0);
  expect(reservations.every((r) => r.status === 'released')).toBe(true);
  const last = (await events(userId)).at(-1);
  expect(last).toMatchObject({ status: 'error', ttsChars: 0, costMicroUsd: 0n });
}
