// chat.messages tells the truth after a reload: every stored reply carries the
// usage it was metered for (its usage event) and how it ended.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../../test/fakes/openai-server.ts';
import { eventually, send } from '../../test/helpers/chat.ts';
import { startTestServer, type TestServer } from '../../test/helpers/server.ts';

let fake: FakeOpenAIServer;
let server: TestServer;
beforeAll(async () => {
  fake = await startFakeOpenAIServer();
  server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.baseUrl, OPENAI_MAX_RETRIES: '0', CHAT_CACHE_TTL_SECONDS: '0' });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

describe('chat.messages usage', () => {
  it('a finished reply lists the usage of its done event; a user message lists none', async () => {
    const b = server.browser({ ip: '10.61.0.1' });
    const result = await send(b, { content: 'Hello! What can you do?' });
    const { items } = await b.trpc.chat.messages.query({ conversationId: result.start!.conversationId });
    const [reply, question] = items;
    expect(question).toMatchObject({ role: 'user', usage: null, finishReason: null });
    expect(reply).toMatchObject({
      id: result.start!.messageId,
      role: 'assistant',
      status: 'ok',
      finishReason: result.done!.finishReason,
      usage: {
        promptTokens: result.done!.usage.promptTokens,
        completionTokens: result.done!.usage.completionTokens,
        costMicroUsd: result.done!.usage.costMicroUsd,
        estimated: false,
      },
    });
    expect(reply!.usage!.costMicroUsd).toBeGreaterThan(0);
  });

  it('a stopped reply keeps its partial text with the estimated usage it was charged', async () => {
    const b = server.browser({ ip: '10.61.0.2' });
    fake.enqueue({ reply: 'one two three four five six seven eight nine ten eleven twelve', chunks: 12, chunkDelayMs: 80 });
    const first = await send(b, { content: 'Tell me a long story about metering' }, { stopAfterDeltas: 2 });
    const conversationId = first.start!.conversationId;
    const items = await eventually(async () => {
      const page = await b.trpc.chat.messages.query({ conversationId });
      expect(page.items).toHaveLength(2);
      return page.items;
    });
    const event = await server.deps.prisma.usageEvent.findFirstOrThrow({
      where: { conversationId },
      select: { promptTokens: true, completionTokens: true, costMicroUsd: true, estimated: true, status: true },
    });
    expect(event.status).toBe('aborted');
    expect(items[0]).toMatchObject({
      role: 'assistant',
      status: 'aborted',
      usage: {
        promptTokens: event.promptTokens,
        completionTokens: event.completionTokens,
        costMicroUsd: Number(event.costMicroUsd),
        estimated: event.estimated,
      },
    });
  });

  it("every page of a long conversation carries its own replies' usage", async () => {
    const b = server.browser({ ip: '10.61.0.3' });
    const first = await send(b, { content: 'one' });
    const conversationId = first.start!.conversationId;
    await send(b, { content: 'two', conversationId });
    await send(b, { content: 'three', conversationId });
    const page1 = await b.trpc.chat.messages.query({ conversationId, limit: 2 });
    const page2 = await b.trpc.chat.messages.query({ conversationId, limit: 2, cursor: page1.nextCursor! });
    const page3 = await b.trpc.chat.messages.query({ conversationId, limit: 2, cursor: page2.nextCursor! });
    const all = [...page1.items, ...page2.items, ...page3.items];
    expect(all.map((m) => m.role)).toEqual(['assistant', 'user', 'assistant', 'user', 'assistant', 'user']);
    for (const m of all) {
      if (m.role === 'user') expect(m.usage).toBeNull();
      else expect(m.usage).toMatchObject({ estimated: false, completionTokens: expect.any(Number) });
    }
    const events = await server.deps.prisma.usageEvent.findMany({ where: { conversationId }, select: { costMicroUsd: true } });
    const total = events.reduce((sum, e) => sum + Number(e.costMicroUsd), 0);
    expect(all.reduce((sum, m) => sum + (m.usage?.costMicroUsd ?? 0), 0)).toBe(total);
  });

  it('a reply streaming for over a second saves its relayed text in the reservation while it streams; the settlement drops it', async () => {
    const b = server.browser({ ip: '10.61.0.4' });
    const reply = 'slow words arriving one after another until the reply is complete';
    fake.enqueue({ reply, chunks: 11, chunkDelayMs: 150 });
    const seen: (string | null)[] = [];
    let userId = '';
    const stream = await b.trpc.chat.send.mutate({ content: 'take your time' });
    for await (const event of stream) {
      if (event.type === 'start') userId = (await b.trpc.auth.me.query())!.id;
      if (event.type === 'delta' && userId) {
        const row = await server.deps.prisma.reservation.findFirst({ where: { userId, status: 'held' }, select: { partialContent: true } });
        seen.push(row?.partialContent ?? null);
      }
    }
    const saved = seen.filter((text): text is string => text !== null);
    expect(saved.length).toBeGreaterThan(0);
    for (const text of saved) expect(reply.startsWith(text)).toBe(true);
    const reservations = await server.deps.prisma.reservation.findMany({ where: { userId }, select: { status: true, partialContent: true } });
    expect(reservations).toEqual([{ status: 'settled', partialContent: null }]);
    const message = await server.deps.prisma.message.findFirstOrThrow({ where: { userId, role: 'assistant' }, select: { status: true, content: true } });
    expect(message).toEqual({ status: 'ok', content: reply });
  });
});
