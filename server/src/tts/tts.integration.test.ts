// Voice against the real TTS worker (built from tts-worker/src and run by the
// supervisor `npm start` uses), behind a proxy that counts synthesis requests.
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { speechChars } from '@chatmeter/shared/speech-text';
import { adjust, COUNTER, read, userSubject } from '../metering/counters.ts';
import { dayStart, nextDay } from '../metering/periods.ts';
import { AudioCache } from './audio-cache.ts';
import { createLogger } from '../lib/logger.ts';
import type { TtsWorkerProcess } from './worker-process.ts';
import { eventually, send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';
import { audioKind, buildWorker, countingProxy, startRealWorker, tempDataDir, type CountingProxy } from '../../test/helpers/tts.ts';

let build: Awaited<ReturnType<typeof buildWorker>>;
let worker: TtsWorkerProcess;
let proxy: CountingProxy;
let dataDir: string;
let server: TestServer;
let nextIp = 1;

beforeAll(async () => {
  build = await buildWorker();
  worker = await startRealWorker(build.script);
  proxy = await countingProxy(() => worker.target());
  dataDir = await tempDataDir();
  server = await startTestServer({ DATA_DIR: dataDir, TTS_WORKER_URL: proxy.url, TTS_WORKER_SECRET: worker.secret });
});
afterAll(async () => {
  await server?.close();
  await proxy?.close();
  await worker?.stop();
  await build?.cleanup();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** A guest with one assistant answer to read aloud. */
async function guestWithAnswer(
  content = 'Hello! Read me something short.',
): Promise<{ b: TestBrowser; messageId: string; userMessageId: string; conversationId: string; text: string; userId: string }> {
  const b = server.browser({ ip: `10.50.0.${nextIp++}` });
  const result = await send(b, { content });
  const me = await b.trpc.auth.me.query();
  return {
    b,
    messageId: result.start!.messageId,
    userMessageId: result.start!.userMessageId,
    conversationId: result.start!.conversationId,
    text: result.text,
    userId: me!.id,
  };
}

/** Walks MP3 frame headers (MPEG-1/2/2.5 layer III) from the start; returns how many frames and bytes they cover. */
function mp3Frames(bytes: Uint8Array): { frames: number; covered: number } {
  let offset = 0;
  if (String.fromCharCode(...bytes.subarray(0, 3)) === 'ID3') {
    const size = ((bytes[6]! & 0x7f) << 21) | ((bytes[7]! & 0x7f) << 14) | ((bytes[8]! & 0x7f) << 7) | (bytes[9]! & 0x7f);
    offset = 10 + size;
  }
  const start = offset;
  const V1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
  const V2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
  const RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };
  let frames = 0;
  while (offset + 4 <= bytes.length) {
    const [b0, b1, b2] = [bytes[offset]!, bytes[offset + 1]!, bytes[offset + 2]!];
    if (b0 !== 0xff || (b1 & 0xe0) !== 0xe0) break;
    const version = (b1 >> 3) & 3;
    const layer = (b1 >> 1) & 3;
    const bitrate = (version === 3 ? V1 : V2)[(b2 >> 4) & 15];
    const rate = RATES[version]?.[(b2 >> 2) & 3];
    if (layer !== 1 || !bitrate || !rate) break;
    const length = Math.floor(((version === 3 ? 144 : 72) * bitrate * 1000) / rate) + ((b2 >> 1) & 1);
    offset += length;
    frames++;
  }
  return { frames, covered: Math.min(offset, bytes.length) - start };
}

describe('tts.voices', () => {
  it("lists the worker's voices with the default voice", async () => {
    const voices = await server.browser().trpc.tts.voices.query();
    expect(voices.engine).toMatch(/^espeak-ng@/);
    expect(voices.defaultVoice).toBe('en-us');
    expect(voices.voices.map((v) => v.id)).toContain('en-us');
    expect(voices.voices[0]).toEqual({ id: expect.any(String), name: expect.any(String), language: expect.any(String), engine: 'espeak-ng' });
    expect(voices.microsPerMillionChars).toBe(0);
  });
});

describe('tts.speak', () => {
  it("reads the owner's answer aloud, meters it, and serves playable MP3 to the owner only", async () => {
    const owner = await guestWithAnswer();
    const before = proxy.syntheses();
    const spoken = await owner.b.trpc.tts.speak.mutate({ messageId: owner.messageId });
    expect(spoken).toMatchObject({ chars: speechChars(owner.text), voice: 'en-us', mime: 'audio/mpeg', cached: false });
    expect(spoken.audioUrl).toMatch(/^\/audio\/[0-9a-f-]{36}$/);
    expect(spoken.durationMs).toBeGreaterThan(500);
    expect(proxy.syntheses()).toBe(before + 1);

    // The ledger: the same counter usage.summary reads, and one usage event at no cost.
    expect((await owner.b.trpc.usage.summary.query()).used.ttsCharsToday).toBe(spoken.chars);
    const events = await server.deps.prisma.usageEvent.findMany({ where: { userId: owner.userId, kind: 'tts' } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: 'ok', ttsChars: spoken.chars, costMicroUsd: 0n, model: expect.stringMatching(/^espeak-ng@/) });
    expect(events[0]!.synthesisMs).toBeGreaterThan(0);
    const history = await owner.b.trpc.usage.history.query();
    expect(history.items[0]).toMatchObject({ kind: 'tts', ttsChars: spoken.chars, costMicroUsd: 0 });

    // GET /audio/:id for the owner: decodable MP3 with the right headers.
    const res = await owner.b.fetch(spoken.audioUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    expect(res.headers.get('cache-control')).toBe('private, max-age=86400');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(bytes.byteLength);
    expect(audioKind(bytes)).toBe('mp3');
    const walk = mp3Frames(bytes);
    expect(walk.frames).toBeGreaterThan(20);
    expect(walk.covered).toBeGreaterThan(bytes.byteLength * 0.95);

    // A range, as audio elements ask for when seeking.
    const part = await owner.b.fetch(spoken.audioUrl, { headers: { range: 'bytes=0-99' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 0-99/${bytes.byteLength}`);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.subarray(0, 100));

    // Anyone else: the clip and the message do not exist; without a session, sign in first.
    const stranger = await guestWithAnswer();
    const denied = await stranger.b.fetch(spoken.audioUrl);
    expect(denied.status).toBe(404);
    expect(await denied.json()).toMatchObject({ error: { reason: 'not_found' } });
    expect((await fetch(`${server.url}${spoken.audioUrl}`)).status).toBe(401);
    expect(await trpcError(stranger.b.trpc.tts.speak.mutate({ messageId: owner.messageId }))).toMatchObject({ code: 'NOT_FOUND', reason: 'not_found' });
    expect((await server.browser().fetch('/audio/not-a-uuid')).status).toBe(401);
    expect((await stranger.b.fetch('/audio/not-a-uuid')).status).toBe(404);
    expect(proxy.syntheses()).toBe(before + 1);
  });

  it('reads only assistant answers, in voices the worker has', async () => {
    const guest = await guestWithAnswer('Tell me about pricing');
    expect(await trpcError(guest.b.trpc.tts.speak.mutate({ messageId: guest.userMessageId }))).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(await trpcError(guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId, voice: 'xx-nope' }))).toMatchObject({
      code: 'BAD_REQUEST',
      reason: 'invalid_input',
    });
    expect(await trpcError(guest.b.trpc.tts.speak.mutate({ messageId: crypto.randomUUID() }))).toMatchObject({ code: 'NOT_FOUND', reason: 'not_found' });
    expect(await trpcError(server.browser().trpc.tts.speak.mutate({ messageId: guest.messageId }))).toMatchObject({ code: 'UNAUTHORIZED' });
    expect((await guest.b.trpc.usage.summary.query()).used.ttsCharsToday).toBe(0);
    const other = await guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId, voice: 'en-us+f3' });
    expect(other).toMatchObject({ voice: 'en-us+f3', cached: false });
  });

  it('a cache hit does no synthesis, still counts against the allowance, and costs nothing', async () => {
    const first = await guestWithAnswer();
    const spoken = await first.b.trpc.tts.speak.mutate({ messageId: first.messageId, voice: 'en-gb' });
    const synthesized = proxy.syntheses();

    const again = await first.b.trpc.tts.speak.mutate({ messageId: first.messageId, voice: 'en-gb' });
    expect(again).toMatchObject({ cached: true, audioUrl: spoken.audioUrl, chars: spoken.chars, durationMs: spoken.durationMs });
    expect(proxy.syntheses()).toBe(synthesized);
    expect((await first.b.trpc.usage.summary.query()).used.ttsCharsToday).toBe(2 * spoken.chars);
    const events = await server.deps.prisma.usageEvent.findMany({ where: { userId: first.userId, kind: 'tts' }, orderBy: { id: 'asc' } });
    expect(events.map((e) => [e.status, e.ttsChars, e.synthesisMs, e.costMicroUsd])).toEqual([
      ['ok', spoken.chars, events[0]!.synthesisMs, 0n],
      ['cached', spoken.chars, 0, 0n],
    ]);

    // Another user with an answer of the same text shares the clip, and may now fetch it too.
    const second = await guestWithAnswer();
    expect(second.text).toBe(first.text);
    const shared = await second.b.trpc.tts.speak.mutate({ messageId: second.messageId, voice: 'en-gb' });
    expect(shared).toMatchObject({ cached: true, audioUrl: spoken.audioUrl });
    expect(proxy.syntheses()).toBe(synthesized);
    expect((await second.b.fetch(shared.audioUrl)).status).toBe(200);
    expect((await second.b.trpc.usage.summary.query()).used.ttsCharsToday).toBe(spoken.chars);
  });

  it('an exhausted allowance is refused before anything is synthesized, cached or not', async () => {
    const guest = await guestWithAnswer('Tell me about pricing');
    const chars = speechChars(guest.text);
    const limit = server.deps.planResolver.guestPlan.limits.ttsCharsPerDay;
    const subject = userSubject(guest.userId);
    const today = dayStart(new Date());
    await adjust(server.deps.prisma, subject, COUNTER.ttsCharsDay, today, limit - chars + 1);
    const before = proxy.syntheses();

    const refused = await trpcError(guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId }));
    expect(refused).toMatchObject({ code: 'PAYMENT_REQUIRED', httpStatus: 402, reason: 'quota_exhausted' });
    expect(refused.data).toMatchObject({ upgrade: true, resetAt: nextDay(new Date()).toISOString() });
    expect(refused.data.retryAfterSeconds).toBeGreaterThan(0);
    expect(proxy.syntheses()).toBe(before);
    expect(await read(server.deps.prisma, subject, COUNTER.ttsCharsDay, today)).toBe(BigInt(limit - chars + 1));
    expect(await server.deps.prisma.usageEvent.count({ where: { userId: guest.userId, kind: 'tts' } })).toBe(0);
    expect(await server.deps.prisma.reservation.count({ where: { userId: guest.userId, kind: 'tts' } })).toBe(0);

    // A clip already in the cache is refused the same way.
    const cachedOwner = await guestWithAnswer();
    await cachedOwner.b.trpc.tts.speak.mutate({ messageId: cachedOwner.messageId });
    await adjust(server.deps.prisma, userSubject(cachedOwner.userId), COUNTER.ttsCharsDay, today, limit);
    const eventsBefore = await server.deps.prisma.usageEvent.count({ where: { userId: cachedOwner.userId, kind: 'tts' } });
    const synthesesBefore = proxy.syntheses();
    expect(await trpcError(cachedOwner.b.trpc.tts.speak.mutate({ messageId: cachedOwner.messageId }))).toMatchObject({ reason: 'quota_exhausted' });
    expect(await server.deps.prisma.usageEvent.count({ where: { userId: cachedOwner.userId, kind: 'tts' } })).toBe(eventsBefore);
    expect(proxy.syntheses()).toBe(synthesesBefore);
  });

  it('concurrent readings at the limit never overshoot it', async () => {
    const guest = await guestWithAnswer('Tell me about pricing');
    const chars = speechChars(guest.text);
    const limit = server.deps.planResolver.guestPlan.limits.ttsCharsPerDay;
    const fits = Math.floor(limit / chars);
    const results = await Promise.allSettled(
      Array.from({ length: fits + 2 }, () => guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId, voice: 'en-us+m3' })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(fits);
    expect((await guest.b.trpc.usage.summary.query()).used.ttsCharsToday).toBe(fits * chars);
  });
});

describe('voice is charged on the text as spoken', () => {
  // An answer made of digits, as a model may write one; stored like any assistant answer.
  async function guestWithDigits(content: string) {
    const guest = await guestWithAnswer(`Explain numbers ${crypto.randomUUID().slice(0, 8)}`);
    const messageId = crypto.randomUUID();
    await server.deps.prisma.message.create({
      data: { id: messageId, conversationId: guest.conversationId, userId: guest.userId, role: 'assistant', content },
      select: { id: true },
    });
    return { ...guest, messageId };
  }
  const SPOKEN = 'one million two hundred thirty-four thousand five hundred sixty-seven eighty-nine million twelve thousand three hundred forty-five.';

  it('speaking "1234567 89012345" charges the spelled-out length, not 16', async () => {
    const guest = await guestWithDigits('1234567 89012345');
    const spoken = await guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId });
    expect(spoken.chars).toBe(SPOKEN.length);
    expect(spoken.chars).not.toBe(16);
    expect((await guest.b.trpc.usage.summary.query()).used.ttsCharsToday).toBe(SPOKEN.length);
    const [event] = await server.deps.prisma.usageEvent.findMany({ where: { userId: guest.userId, kind: 'tts' } });
    expect(event).toMatchObject({ status: 'ok', ttsChars: SPOKEN.length });
    // The reservation held exactly that, before the worker was asked.
    const [reservation] = await server.deps.prisma.reservation.findMany({ where: { userId: guest.userId, kind: 'tts' } });
    expect(reservation).toMatchObject({ status: 'settled', ttsChars: SPOKEN.length });

    // A cache hit of the same clip is charged the same.
    const again = await guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId });
    expect(again).toMatchObject({ cached: true, chars: SPOKEN.length });
    expect((await guest.b.trpc.usage.summary.query()).used.ttsCharsToday).toBe(2 * SPOKEN.length);
  });

  it('concurrent readings of digits never pass the allowance counted in spoken characters', async () => {
    const guest = await guestWithDigits('1234567 89012345');
    const limit = server.deps.planResolver.guestPlan.limits.ttsCharsPerDay;
    const fits = Math.floor(limit / SPOKEN.length);
    const results = await Promise.allSettled(
      Array.from({ length: fits + 3 }, () => guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId, voice: 'en-us+f3' })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(fits);
    for (const r of results) {
      if (r.status === 'rejected') expect((r.reason as { data?: { reason?: string } }).data?.reason).toBe('quota_exhausted');
    }
    expect((await guest.b.trpc.usage.summary.query()).used.ttsCharsToday).toBe(fits * SPOKEN.length);
  });
});

describe('spoken audio goes with what it was spoken from', () => {
  const clipId = (audioUrl: string) => audioUrl.split('/').pop()!;
  const clipFile = (audioUrl: string) => server.deps.tts.cache.fileFor(clipId(audioUrl), 'mp3');

  it('deleting a conversation deletes its audio: /audio/:id answers 404 and the file is gone from the cache', async () => {
    // A topic of its own, so the answer (and its clip) is this guest's alone.
    const owner = await guestWithAnswer(`Explain tide pools ${crypto.randomUUID().slice(0, 8)}`);
    const spoken = await owner.b.trpc.tts.speak.mutate({ messageId: owner.messageId });
    expect((await owner.b.fetch(spoken.audioUrl)).status).toBe(200);
    expect(existsSync(clipFile(spoken.audioUrl))).toBe(true);

    await owner.b.trpc.chat.deleteConversation.mutate({ conversationId: owner.conversationId });

    const res = await owner.b.fetch(spoken.audioUrl);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { reason: 'not_found' } });
    expect(existsSync(clipFile(spoken.audioUrl))).toBe(false);
    expect(await server.deps.prisma.audioClip.count({ where: { id: clipId(spoken.audioUrl) } })).toBe(0);
    expect(await server.deps.prisma.spokenMessage.count({ where: { userId: owner.userId } })).toBe(0);
    // The voice usage already metered stays metered.
    expect((await owner.b.trpc.usage.summary.query()).used.ttsCharsToday).toBe(spoken.chars);
  });

  it('a clip someone else also had spoken stays theirs when one owner deletes the conversation', async () => {
    const topic = `Explain sand dunes ${crypto.randomUUID().slice(0, 8)}`;
    const first = await guestWithAnswer(topic);
    const second = await guestWithAnswer(topic);
    expect(second.text).toBe(first.text);
    const a = await first.b.trpc.tts.speak.mutate({ messageId: first.messageId });
    const b = await second.b.trpc.tts.speak.mutate({ messageId: second.messageId });
    expect(b).toMatchObject({ cached: true, audioUrl: a.audioUrl });

    await first.b.trpc.chat.deleteConversation.mutate({ conversationId: first.conversationId });
    expect((await first.b.fetch(a.audioUrl)).status).toBe(404);
    expect((await second.b.fetch(a.audioUrl)).status).toBe(200);
    expect(existsSync(clipFile(a.audioUrl))).toBe(true);

    await second.b.trpc.chat.deleteConversation.mutate({ conversationId: second.conversationId });
    expect((await second.b.fetch(a.audioUrl)).status).toBe(404);
    expect(existsSync(clipFile(a.audioUrl))).toBe(false);
  });

  it('a conversation deleted while its answer is being spoken gets no audio, and the characters go back', async () => {
    const owner = await guestWithAnswer(`Explain glaciers ${crypto.randomUUID().slice(0, 8)}`);
    const held = proxy.holdNextSynthesis();
    const speaking = owner.b.trpc.tts.speak.mutate({ messageId: owner.messageId });
    await held.arrived;
    await owner.b.trpc.chat.deleteConversation.mutate({ conversationId: owner.conversationId });
    held.release();
    expect(await trpcError(speaking)).toMatchObject({ code: 'NOT_FOUND', reason: 'not_found' });
    expect(await server.deps.prisma.spokenMessage.count({ where: { userId: owner.userId } })).toBe(0);
    expect((await owner.b.trpc.usage.summary.query()).used.ttsCharsToday).toBe(0);
    const events = await server.deps.prisma.usageEvent.findMany({ where: { userId: owner.userId, kind: 'tts' } });
    expect(events.map((e) => [e.status, e.ttsChars])).toEqual([['error', 0]]);
  });

  it('deleting the account deletes its audio rows and files', async () => {
    const owner = await guestWithAnswer(`Explain coral reefs ${crypto.randomUUID().slice(0, 8)}`);
    const spoken = await owner.b.trpc.tts.speak.mutate({ messageId: owner.messageId });
    expect(existsSync(clipFile(spoken.audioUrl))).toBe(true);
    await owner.b.trpc.account.deleteAccount.mutate({ confirm: 'DELETE' });
    expect(existsSync(clipFile(spoken.audioUrl))).toBe(false);
    expect(await server.deps.prisma.audioClip.count({ where: { id: clipId(spoken.audioUrl) } })).toBe(0);
    expect(await server.deps.prisma.spokenMessage.count({ where: { userId: owner.userId } })).toBe(0);
  });
});

describe('the worker process', () => {
  it('is restarted when it dies, and voice works again', async () => {
    const guest = await guestWithAnswer('hi');
    const pid = worker.pid!;
    const starts = worker.starts;
    process.kill(pid, 'SIGKILL');
    await eventually(async () => expect(worker.starts).toBe(starts + 1), 5_000);
    expect(await worker.ready(30_000)).toBe(true);
    expect(worker.pid).not.toBe(pid);
    const spoken = await guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId, voice: 'en-us+m7' });
    expect(spoken.cached).toBe(false);
  });
});

describe('audio cache', () => {
  it('evicts least recently used clips past the cap, never the one just made, and their URLs go away', async () => {
    const { prisma } = server.deps;
    const cache = new AudioCache(prisma, server.deps.tts.cache.dir, 4_000, createLogger('silent'));
    await server.deps.tts.cache.evict(); // the real cap is far away: nothing happens
    const existing = await prisma.audioClip.findMany({ select: { id: true } });
    const owner = await guestWithAnswer();
    const spoken = await owner.b.trpc.tts.speak.mutate({ messageId: owner.messageId, voice: 'en-us+f4' });
    const newest = spoken.audioUrl.split('/').pop()!;
    // Pretend every existing clip is old, then squeeze the cap.
    await prisma.audioClip.updateMany({ where: { id: { not: newest } }, data: { lastUsedAt: new Date(Date.now() - 86_400_000) } });
    const removed = await cache.evict(newest);
    expect(removed).toBeGreaterThanOrEqual(existing.length);
    expect(await prisma.audioClip.findUnique({ where: { id: newest }, select: { id: true } })).not.toBeNull();
    const total = await prisma.audioClip.aggregate({ _sum: { bytes: true } });
    expect(total._sum.bytes ?? 0).toBeLessThanOrEqual(Math.max(4_000, (await prisma.audioClip.findUniqueOrThrow({ where: { id: newest } })).bytes));
    for (const clip of existing) {
      expect(await cache.has(clip.id, 'mp3')).toBe(false);
      expect(await prisma.spokenMessage.count({ where: { clipId: clip.id } })).toBe(0);
    }
    expect((await owner.b.fetch(spoken.audioUrl)).status).toBe(200);
  });

  it('a clip whose file is gone is synthesized again on the next reading', async () => {
    const owner = await guestWithAnswer('Tell me about pricing');
    const spoken = await owner.b.trpc.tts.speak.mutate({ messageId: owner.messageId, voice: 'en-us+f2' });
    const id = spoken.audioUrl.split('/').pop()!;
    await rm(server.deps.tts.cache.fileFor(id, 'mp3'));
    expect((await owner.b.fetch(spoken.audioUrl)).status).toBe(404);
    const before = proxy.syntheses();
    const again = await owner.b.trpc.tts.speak.mutate({ messageId: owner.messageId, voice: 'en-us+f2' });
    expect(again).toMatchObject({ cached: false, audioUrl: spoken.audioUrl });
    expect(proxy.syntheses()).toBe(before + 1);
    expect((await owner.b.fetch(spoken.audioUrl)).status).toBe(200);
  });

  it('leftover temporary files are removed and expired voice reservations give their characters back', async () => {
    const stale = `${server.deps.tts.cache.dir}/.tmp-stale`;
    await writeFile(stale, 'x');
    await server.deps.tts.cache.removeStaleTemp(Date.now() + 2 * 60 * 60 * 1000);
    expect(existsSync(stale)).toBe(false);

    const guest = await guestWithAnswer('hi');
    const today = dayStart(new Date());
    const subject = userSubject(guest.userId);
    await server.deps.tts.meter.reserve(
      {
        userId: guest.userId,
        isGuest: true,
        planName: 'Guest',
        limit: 1_000,
        chars: 50,
        requestId: 'r',
        conversationId: crypto.randomUUID(),
        messageId: guest.messageId,
        costMicroUsd: 0,
      },
      -1_000,
    );
    expect(await read(server.deps.prisma, subject, COUNTER.ttsCharsDay, today)).toBe(50n);
    expect(await server.deps.tts.meter.releaseExpired()).toBeGreaterThanOrEqual(1);
    expect(await read(server.deps.prisma, subject, COUNTER.ttsCharsDay, today)).toBe(0n);
  });
});
