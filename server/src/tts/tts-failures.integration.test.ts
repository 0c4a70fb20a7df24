// Voice when the worker is busy, silent or gone (a fake worker: these states are
// hard to produce on demand with the real one). Only voice is refused; the
// characters go back; chat keeps working.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';
import { deadUrl, fakeWorker, tempDataDir } from '../../test/helpers/tts.ts';

let fake: Awaited<ReturnType<typeof fakeWorker>>;
let dataDir: string;
let server: TestServer;
let nextIp = 1;

beforeAll(async () => {
  fake = await fakeWorker('busy');
  dataDir = await tempDataDir();
  server = await startTestServer({ DATA_DIR: dataDir, TTS_WORKER_URL: fake.url, TTS_TIMEOUT_MS: '1000' });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function guestWithAnswer(on: TestServer): Promise<{ b: TestBrowser; messageId: string; userId: string }> {
  const b = on.browser({ ip: `10.60.0.${nextIp++}` });
  const result = await send(b, { content: 'hi' });
  return { b, messageId: result.start!.messageId, userId: (await b.trpc.auth.me.query())!.id };
}

async function expectNothingCharged(on: TestServer, guest: { b: TestBrowser; userId: string }, status: string) {
  expect((await guest.b.trpc.usage.summary.query()).used.ttsCharsToday).toBe(0);
  const events = await on.deps.prisma.usageEvent.findMany({ where: { userId: guest.userId, kind: 'tts' } });
  expect(events.map((e) => [e.status, e.ttsChars, e.costMicroUsd])).toEqual([[status, 0, 0n]]);
  const reservations = await on.deps.prisma.reservation.findMany({ where: { userId: guest.userId, kind: 'tts' }, select: { status: true } });
  expect(reservations).toEqual([{ status: 'released' }]);
}

describe('voice when the worker cannot serve', () => {
  it('a busy worker (503 + Retry-After) is TOO_MANY_REQUESTS tts_busy with retryAfterSeconds, and the characters go back', async () => {
    fake.mode = 'busy';
    const guest = await guestWithAnswer(server);
    const before = fake.syntheses();
    const error = await trpcError(guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId }));
    expect(error).toMatchObject({ code: 'TOO_MANY_REQUESTS', httpStatus: 429, reason: 'tts_busy' });
    expect(error.data.retryAfterSeconds).toBe(7);
    expect(fake.syntheses()).toBe(before + 1);
    await expectNothingCharged(server, guest, 'error');
  });

  it('a worker that does not answer in TTS_TIMEOUT_MS is SERVICE_UNAVAILABLE provider_unavailable', async () => {
    fake.mode = 'hang';
    const guest = await guestWithAnswer(server);
    const started = Date.now();
    const error = await trpcError(guest.b.trpc.tts.speak.mutate({ messageId: guest.messageId }));
    expect(error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', httpStatus: 503, reason: 'provider_unavailable' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(5_000);
    await expectNothingCharged(server, guest, 'error');
  });

  it('with no worker listening, voice is provider_unavailable and chat still works', async () => {
    const down = await startTestServer({ TTS_WORKER_URL: await deadUrl() });
    try {
      const b = down.browser({ ip: '10.61.0.1' });
      expect(await trpcError(b.trpc.tts.voices.query())).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'provider_unavailable' });
      const first = await send(b, { content: 'hi' });
      expect(await trpcError(b.trpc.tts.speak.mutate({ messageId: first.start!.messageId }))).toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        reason: 'provider_unavailable',
      });
      const next = await send(b, { content: 'Tell me about pricing', conversationId: first.start!.conversationId });
      expect(next.done?.status).toBe('ok');
      expect(next.text.length).toBeGreaterThan(20);
      expect((await b.trpc.usage.summary.query()).used).toMatchObject({ messagesToday: 2, ttsCharsToday: 0 });
    } finally {
      await down.close();
    }
  });

  it('without TTS_WORKER_URL and without a started worker, voice is provider_unavailable', async () => {
    const none = await startTestServer({});
    try {
      expect(await trpcError(none.browser().trpc.tts.voices.query())).toMatchObject({ reason: 'provider_unavailable' });
    } finally {
      await none.close();
    }
  });
});
