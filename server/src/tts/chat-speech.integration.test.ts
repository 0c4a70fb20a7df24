// Speech while the reply streams (chat.send with speak: true): against the real TTS
// worker (built from tts-worker/src, behind a proxy that counts and can hold syntheses)
// and against the fake OpenAI-compatible speech server (a priced engine whose answers a
// test can fail or delay). Events in order and interleaved with the text, one sentence
// skipped, a timeout, Stop giving the reservations back, the daily limit exact under
// concurrency, a refusal mid-reply, tts.speak reusing the clips without a second charge,
// and deletion removing them.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TChatEvent } from '@chatmeter/shared/chat';
import { ttsCostMicroUsd } from '@chatmeter/shared/money';
import { DEFAULT_PLANS } from '@chatmeter/shared/plans';
import { speechSentences } from '@chatmeter/shared/speech-text';
import type { TSpeechEvent } from '@chatmeter/shared/tts';
import { adjust, COUNTER, read, userSubject } from '../metering/counters.ts';
import { RetentionJob } from '../admin/retention.ts';
import { createLogger } from '../lib/logger.ts';
import { dayStart, monthStart } from '../metering/periods.ts';
import { sentenceChars } from './tts-service.ts';
import type { TtsWorkerProcess } from './worker-process.ts';
import { startFakeSpeechServer, type FakeSpeechServer } from '../../test/fakes/speech-server.ts';
import { person } from '../../test/helpers/admin.ts';
import { eventually, send } from '../../test/helpers/chat.ts';
import { startTestServer, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';
import { audioKind, buildWorker, countingProxy, startRealWorker, tempDataDir, type CountingProxy } from '../../test/helpers/tts.ts';

type Audio = Extract<TSpeechEvent, { type: 'audio' }>;
const isSpeech = (e: TChatEvent): e is TSpeechEvent => e.type === 'audio' || e.type === 'audio_skipped' || e.type === 'audio_end';
const speechOf = (events: TChatEvent[]) => events.filter(isSpeech);
const audioOf = (events: TChatEvent[]) => events.filter((e): e is Audio => e.type === 'audio');
/** A question the demo model answers in several sentences (a few paragraphs about plans and quotas). */
const QUESTION = (topic: string) => `How do plans and quotas work for ${topic}?`;

let nextIp = 1;
const ttsToday = (s: TestServer, userId: string) => read(s.deps.prisma, userSubject(userId), COUNTER.ttsCharsDay, dayStart(new Date()));
const heldVoice = (s: TestServer, userId: string) => s.deps.prisma.reservation.count({ where: { userId, kind: 'tts', status: 'held' } });

async function guest(s: TestServer): Promise<{ b: TestBrowser; userId: string }> {
  const b = s.browser({ ip: `10.72.${Math.floor(nextIp / 250)}.${(nextIp++ % 250) + 1}` });
  // The first message makes the visitor a guest (and tells us who it is).
  await send(b, { content: 'Hello' });
  const me = await b.trpc.auth.me.query();
  return { b, userId: me!.id };
}

/** Every sentence of the reply is accounted for once, in order: audio or skipped, up to an audio_end if any. */
function expectInOrder(events: TChatEvent[], text: string): void {
  const speech = speechOf(events);
  const sentences = speechSentences(text, { language: 'en-US' });
  const end = speech.find((e) => e.type === 'audio_end');
  const spoken = speech.filter((e) => e.type !== 'audio_end');
  expect(spoken.map((e) => e.index)).toEqual(Array.from({ length: end ? end.index : sentences.length }, (_, i) => i));
  if (end) expect(speech.at(-1)).toBe(end);
  for (const e of audioOf(events)) expect(e.chars).toBe(sentenceChars(sentences[e.index]!));
}

describe('with the built-in worker', () => {
  let build: Awaited<ReturnType<typeof buildWorker>>;
  let worker: TtsWorkerProcess;
  let proxy: CountingProxy;
  let dataDir: string;
  let server: TestServer;

  beforeAll(async () => {
    build = await buildWorker();
    worker = await startRealWorker(build.script, { TTS_THREADS: '2' });
    proxy = await countingProxy(() => worker.target());
    dataDir = await tempDataDir();
    // Slow text, so speech can overtake it.
    server = await startTestServer({ DATA_DIR: dataDir, TTS_WORKER_URL: proxy.url, TTS_WORKER_SECRET: worker.secret, DEMO_DELAY_MS: '40' });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await proxy?.close();
    await worker?.stop();
    await build?.cleanup();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('speaks each sentence as it completes, in order among the deltas, metered per sentence; tts.speak reuses the clips free', async () => {
    const { b, userId } = await guest(server);
    const before = proxy.syntheses();
    const result = await send(b, { content: QUESTION('the first test'), speak: true });
    const sentences = speechSentences(result.text, { language: 'en-US' });
    expect(sentences.length).toBeGreaterThan(3);
    expectInOrder(result.events, result.text);
    const audio = audioOf(result.events);
    expect(audio).toHaveLength(sentences.length);
    // The built-in engine is free in dollars: each sentence says so.
    for (const e of audio) expect(e.costMicroUsd).toBe(0);
    expect(proxy.syntheses() - before).toBe(sentences.length);

    // Speech did not wait for the whole reply: an audio event came before the last delta.
    const lastDelta = result.events.findLastIndex((e) => e.type === 'delta');
    expect(result.events.findIndex((e) => e.type === 'audio')).toBeLessThan(lastDelta);
    expect(result.done).toBeDefined();

    // The ledger: the sentences' characters on the daily counter, one usage event each, nothing held.
    const chars = audio.reduce((sum, e) => sum + e.chars, 0);
    expect(await ttsToday(server, userId)).toBe(BigInt(chars));
    expect((await b.trpc.usage.summary.query()).used.ttsCharsToday).toBe(chars);
    const usage = await server.deps.prisma.usageEvent.findMany({ where: { userId, kind: 'tts' } });
    expect(usage).toHaveLength(sentences.length);
    expect(usage.reduce((sum, e) => sum + e.ttsChars, 0)).toBe(chars);
    expect(await heldVoice(server, userId)).toBe(0);

    // The clips are the owner's: playable MP3 for them, 404 for anyone else.
    const res = await b.fetch(audio[0]!.audioUrl);
    expect(res.status).toBe(200);
    expect(audioKind(new Uint8Array(await res.arrayBuffer()))).toBe('mp3');
    const stranger = await guest(server);
    expect((await stranger.b.fetch(audio[0]!.audioUrl)).status).toBe(404);

    // Reading it again: the same clips, in order, without synthesis or charge.
    const again = await b.trpc.tts.speak.mutate({ messageId: result.start!.messageId });
    expect(again.clips.map((c) => c.audioUrl)).toEqual(audio.map((e) => e.audioUrl));
    expect(again).toMatchObject({ audioUrl: audio[0]!.audioUrl, cached: true, costMicroUsd: 0, chars });
    expect(again.durationMs).toBe(audio.reduce((sum, e) => sum + e.durationMs, 0));
    expect(proxy.syntheses() - before).toBe(sentences.length);
    expect(await ttsToday(server, userId)).toBe(BigInt(chars));

    // Deleting the conversation takes the clips' access (and the clips) with it.
    await b.trpc.chat.deleteConversation.mutate({ conversationId: result.start!.conversationId });
    expect(await server.deps.prisma.sentenceClip.count({ where: { userId } })).toBe(0);
    expect((await b.fetch(audio[0]!.audioUrl)).status).toBe(404);
  });

  it('Stop ends the text and the speech: the synthesis in flight is aborted and its reservation given back', async () => {
    const { b, userId } = await guest(server);
    const hold = proxy.holdNextSynthesis();
    const controller = new AbortController();
    const events: TChatEvent[] = [];
    const stream = await b.trpc.chat.send.mutate({ content: QUESTION('a stopped reply'), speak: true }, { signal: controller.signal });
    const reading = (async () => {
      try {
        for await (const event of stream) events.push(event as TChatEvent);
      } catch (error) {
        if (!controller.signal.aborted) throw error;
      }
    })();
    await hold.arrived;
    // A sentence is reserved and at the engine: Stop now.
    expect(await heldVoice(server, userId)).toBeGreaterThan(0);
    controller.abort();
    await reading;
    hold.release();
    await eventually(async () => expect(await heldVoice(server, userId)).toBe(0));
    await eventually(async () => expect(await server.deps.prisma.usageEvent.count({ where: { userId, kind: 'tts', status: 'aborted' } })).toBeGreaterThan(0));
    // What was given back is off the counter: only delivered sentences count.
    const settled = await server.deps.prisma.usageEvent.findMany({ where: { userId, kind: 'tts', status: { in: ['ok', 'cached'] } } });
    expect(await ttsToday(server, userId)).toBe(BigInt(settled.reduce((sum, e) => sum + e.ttsChars, 0)));
    expect(events.some((e) => e.type === 'done')).toBe(false);
    // The chat reply settled as stopped.
    await eventually(async () => expect(await server.deps.prisma.reservation.count({ where: { userId, kind: 'chat', status: 'held' } })).toBe(0));
  });

  it('a refusal mid-reply (daily characters used up) ends the speech with its reason and limit; the text finishes', async () => {
    const { b, userId } = await guest(server);
    // The same question in a new conversation gets the same reply: learn its sentences first.
    const probe = await send(b, { content: QUESTION('a refused reading') });
    const sentences = speechSentences(probe.text, { language: 'en-US' });
    const first = sentenceChars(sentences[0]!);
    const limit = 1_000; // the guest plan's ttsCharsPerDay
    // Room for the first sentence only.
    await adjust(server.deps.prisma, userSubject(userId), COUNTER.ttsCharsDay, dayStart(new Date()), limit - first - 1);
    const result = await send(b, { content: QUESTION('a refused reading'), speak: true });
    expect(result.text).toBe(probe.text);
    expect(result.done).toBeDefined();
    expectInOrder(result.events, result.text);
    const speech = speechOf(result.events);
    expect(speech.map((e) => e.type)).toEqual(['audio', 'audio_end']);
    expect(speech[1]).toMatchObject({ type: 'audio_end', index: 1, reason: 'quota_exhausted', limit: 'ttsCharsPerDay' });
    expect(await ttsToday(server, userId)).toBe(BigInt(limit - 1));
    expect(await heldVoice(server, userId)).toBe(0);
  });

  it('keeps the daily limit exact when several replies speak at once', async () => {
    const { b, userId } = await guest(server);
    const limit = 1_000;
    const start = 700;
    await adjust(server.deps.prisma, userSubject(userId), COUNTER.ttsCharsDay, dayStart(new Date()), start);
    const results = await Promise.all(['one', 'two', 'three'].map((n) => send(b, { content: QUESTION(`concurrent reply ${n}`), speak: true })));
    let spoken = 0;
    for (const result of results) {
      expectInOrder(result.events, result.text);
      spoken += audioOf(result.events).reduce((sum, e) => sum + e.chars, 0);
    }
    // Someone was refused (3 replies do not fit in 300 characters), and not one character too many was taken.
    expect(results.some((r) => speechOf(r.events).some((e) => e.type === 'audio_end' && e.reason === 'quota_exhausted'))).toBe(true);
    expect(await ttsToday(server, userId)).toBe(BigInt(start + spoken));
    expect(start + spoken).toBeLessThanOrEqual(limit);
    expect(await heldVoice(server, userId)).toBe(0);
  });
});

describe('a plan without voice', () => {
  it('ends the speech at the first sentence with the reason and limit; the text is unaffected', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'chatmeter-chat-speech-plan-'));
    const plansFile = path.join(dir, 'plans.json');
    await writeFile(plansFile, JSON.stringify(DEFAULT_PLANS.map((p) => (p.id === 'guest' ? { ...p, limits: { ...p.limits, ttsCharsPerDay: 0 } } : p))));
    const s = await startTestServer({ DATA_DIR: path.join(dir, 'data'), PLANS_FILE: plansFile, TTS_WORKER_URL: 'http://127.0.0.1:9' });
    try {
      const b = s.browser({ ip: '10.74.0.1' });
      const result = await send(b, { content: QUESTION('a plan without voice'), speak: true });
      expect(result.done).toBeDefined();
      expect(speechOf(result.events)).toEqual([
        { type: 'audio_end', index: 0, reason: 'quota_exhausted', limit: 'ttsCharsPerDay', message: expect.stringContaining('not part of') },
      ]);
      expect(await s.deps.prisma.reservation.count({ where: { kind: 'tts' } })).toBe(0);
    } finally {
      await s.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('retention', () => {
  it('removes the sentence clips of the messages it deletes', async () => {
    const dataDir = await tempDataDir();
    const s = await startTestServer({ DATA_DIR: dataDir, TTS_WORKER_URL: 'http://127.0.0.1:9' });
    try {
      const b = s.browser({ ip: '10.73.0.1' });
      const reply = await send(b, { content: 'Hello' });
      const me = await b.trpc.auth.me.query();
      // A sentence clip as a streamed reading leaves it, and one of a reply that was never stored.
      const clip = await s.deps.prisma.audioClip.create({
        data: { cacheKey: 'k1', voice: 'en-us', engine: 'e', format: 'mp3', mime: 'audio/mpeg', bytes: 1, durationMs: 1, chars: 1, synthesisMs: 1 },
      });
      const row = { clipId: clip.id, userId: me!.id, conversationId: reply.start!.conversationId, chars: 1 };
      await s.deps.prisma.sentenceClip.createMany({
        data: [
          { ...row, messageId: reply.start!.messageId, idx: 0 },
          { ...row, messageId: '00000000-0000-4000-8000-000000000001', idx: 0 },
        ],
      });
      const job = new RetentionJob(s.deps.prisma, createLogger('silent'), { retentionDays: 30, messageRetentionDays: 1 });
      await job.run({ force: true });
      expect(await s.deps.prisma.sentenceClip.count()).toBe(2);
      await job.run({ now: new Date(Date.now() + 2 * 24 * 3600 * 1000), force: true });
      expect(await s.deps.prisma.sentenceClip.count()).toBe(0);
    } finally {
      await s.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('with a priced OpenAI-compatible engine', () => {
  const PRICE = 12_345_678;
  let fake: FakeSpeechServer;
  let dir: string;
  let server: TestServer;

  beforeAll(async () => {
    fake = await startFakeSpeechServer();
    dir = await mkdtemp(path.join(os.tmpdir(), 'chatmeter-chat-speech-'));
    const pricingFile = path.join(dir, 'pricing.json');
    await writeFile(
      pricingFile,
      JSON.stringify([
        { model: 'demo', inputMicrosPerMillion: 150_000, outputMicrosPerMillion: 600_000, contextWindow: 128_000, maxOutputTokens: 16_384 },
        { model: 'tts-fake', kind: 'tts', microsPerMillionChars: PRICE },
      ]),
    );
    server = await startTestServer({
      DATA_DIR: path.join(dir, 'data'),
      PRICING_FILE: pricingFile,
      TTS_ENGINE: 'openai-compatible',
      TTS_BASE_URL: fake.baseUrl,
      TTS_API_KEY: 'sk-fake',
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
  // Every test synthesizes afresh (no clip of an earlier test's identical sentence).
  beforeEach(async () => {
    await server.deps.prisma.audioClip.deleteMany({});
  });

  it('skips a sentence the engine fails, with a note, and charges only the spoken ones (in characters and dollars)', async () => {
    const { b, userId } = await guest(server);
    fake.enqueue({ status: 500, error: { message: 'boom' } });
    const result = await send(b, { content: QUESTION('a skipped sentence'), speak: true });
    expectInOrder(result.events, result.text);
    const skipped = speechOf(result.events).filter((e) => e.type === 'audio_skipped');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ reason: 'provider_unavailable', message: expect.any(String) });
    const audio = audioOf(result.events);
    expect(audio.length).toBe(speechSentences(result.text, { language: 'en-US' }).length - 1);
    const chars = audio.reduce((sum, e) => sum + e.chars, 0);
    expect(await ttsToday(server, userId)).toBe(BigInt(chars));
    const usage = await server.deps.prisma.usageEvent.findMany({ where: { userId, kind: 'tts' } });
    expect(usage.filter((e) => e.status === 'error')).toHaveLength(1);
    const cost = usage.reduce((sum, e) => sum + e.costMicroUsd, 0n);
    expect(cost).toBe(BigInt(audio.reduce((sum, e) => sum + ttsCostMicroUsd(e.chars, PRICE), 0)));
    expect(await heldVoice(server, userId)).toBe(0);
  });

  it("puts each sentence's cost on its audio event, and the voice in usage.summary's cost as in usage.history", async () => {
    const { b, userId } = await guest(server);
    const before = await b.trpc.usage.summary.query();
    const result = await send(b, { content: QUESTION('a paid reading'), speak: true });
    expectInOrder(result.events, result.text);
    const audio = audioOf(result.events);
    expect(audio.length).toBe(speechSentences(result.text, { language: 'en-US' }).length);
    // Each audio event carries its sentence's metered cost: the cost of its usage event.
    for (const e of audio) expect(e.costMicroUsd).toBe(ttsCostMicroUsd(e.chars, PRICE));
    const voice = audio.reduce((sum, e) => sum + e.costMicroUsd!, 0);
    expect(voice).toBeGreaterThan(0);
    const ttsEvents = await server.deps.prisma.usageEvent.findMany({ where: { userId, kind: 'tts' }, select: { costMicroUsd: true } });
    expect(ttsEvents.reduce((sum, e) => sum + e.costMicroUsd, 0n)).toBe(BigInt(voice));

    // usage.summary's cost this period: the chat reply's cost plus the voice's, the same sum usage.history shows.
    const chat = result.done!.usage.costMicroUsd;
    const after = await b.trpc.usage.summary.query();
    expect(after.used.costThisPeriodMicroUsd - before.used.costThisPeriodMicroUsd).toBe(chat + voice);
    expect(after.costMicroUsd.thisMonth - before.costMicroUsd.thisMonth).toBe(chat + voice);
    const history = await b.trpc.usage.history.query();
    expect(history.items.reduce((sum, i) => sum + i.costMicroUsd, 0)).toBe(after.used.costThisPeriodMicroUsd);
    expect(history.items.filter((i) => i.kind === 'tts').reduce((sum, i) => sum + i.costMicroUsd, 0)).toBe(voice);
  });

  it('skips a sentence that times out (TTS_TIMEOUT_MS) and gives its reservation back', async () => {
    const { b, userId } = await guest(server);
    fake.enqueue({ delayMs: 1_500 });
    const result = await send(b, { content: QUESTION('a slow sentence'), speak: true });
    expectInOrder(result.events, result.text);
    const skipped = speechOf(result.events).filter((e) => e.type === 'audio_skipped');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]!.reason).toBe('provider_unavailable');
    expect(await ttsToday(server, userId)).toBe(BigInt(audioOf(result.events).reduce((sum, e) => sum + e.chars, 0)));
    expect(await heldVoice(server, userId)).toBe(0);
  });

  it("the plan's dollar cap, used up, ends the speech at once with costPerMonth; the text, paid by credits, finishes", async () => {
    const user = await person(server);
    const admin = await person(server, 'admin');
    await admin.b.trpc.admin.adjustCredits.mutate({ userId: user.id, tokens: 50_000, reason: 'Credits so that chat goes on past the plan cap' });
    const cap = (await user.b.trpc.usage.summary.query()).limits.costPerMonthMicroUsd!;
    await adjust(server.deps.prisma, userSubject(user.id), COUNTER.costMonth, monthStart(new Date()), cap);
    const speeches = fake.speeches().length;
    const result = await send(user.b, { content: QUESTION('a capped reading'), speak: true });
    expect(result.done).toMatchObject({ status: 'ok' });
    expect(result.text.length).toBeGreaterThan(0);
    const speech = speechOf(result.events);
    expect(speech.map((e) => e.type)).toEqual(['audio_end']);
    expect(speech[0]).toMatchObject({ index: 0, reason: 'quota_exhausted', limit: 'costPerMonth' });
    // Nothing was asked of the engine, nothing held or charged in dollars.
    expect(fake.speeches()).toHaveLength(speeches);
    expect(await read(server.deps.prisma, userSubject(user.id), COUNTER.costMonth, monthStart(new Date()))).toBe(BigInt(cap));
    expect(await heldVoice(server, user.id)).toBe(0);
  });

  it('ends the speech after three failures in a row; the text still finishes', async () => {
    const { b, userId } = await guest(server);
    fake.enqueue({ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 });
    const result = await send(b, { content: QUESTION('a dead engine'), speak: true });
    expect(result.done).toBeDefined();
    const speech = speechOf(result.events);
    expect(speech.map((e) => e.type)).toEqual(['audio_skipped', 'audio_skipped', 'audio_skipped', 'audio_end']);
    expect(speech[3]).toMatchObject({ index: 3, reason: 'provider_unavailable', limit: null });
    expect(await ttsToday(server, userId)).toBe(0n);
    await eventually(async () => expect(await heldVoice(server, userId)).toBe(0));
  });
});
