// Regenerate a reply, edit a message and resend it (issue 15): each is a message,
// streamed and metered like chat.send; earlier versions are kept as siblings in the
// conversation's tree; the model sees only the active path; the user's choice of
// version is remembered; refusals write nothing.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Prisma } from '@chatmeter/db/client';
import type { TChatEvent } from '@chatmeter/shared/chat';
import { COUNTER, userSubject } from '../metering/counters.ts';
import { dayStart } from '../metering/periods.ts';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../../test/fakes/openai-server.ts';
import { eventually, send, type SendResult } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';

let fake: FakeOpenAIServer;
let server: TestServer;
beforeAll(async () => {
  fake = await startFakeOpenAIServer();
  server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.baseUrl, OPENAI_MAX_RETRIES: '0', CHAT_CACHE_TTL_SECONDS: '60' });
});
// Each test queues its own replies; its prompts are its own, so none is answered from another's cache.
beforeEach(() => fake.reset());
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

let n = 0;
async function freeUser(): Promise<{ b: TestBrowser; id: string }> {
  const b = server.browser({ ip: `10.63.0.${++n}` });
  const { user } = await b.trpc.auth.signUp.mutate({ email: `versions${n}-${Date.now()}@example.com`, password: 'correct horse battery' });
  return { b, id: user.id };
}

async function collect(stream: Promise<AsyncIterable<unknown>>): Promise<SendResult> {
  const events: TChatEvent[] = [];
  for await (const event of await stream) events.push(event as TChatEvent);
  return {
    events,
    text: events.map((e) => (e.type === 'delta' ? e.text : '')).join(''),
    start: events.find((e): e is Extract<TChatEvent, { type: 'start' }> => e.type === 'start'),
    done: events.find((e): e is Extract<TChatEvent, { type: 'done' }> => e.type === 'done'),
  };
}

const regenerate = (b: TestBrowser, input: { messageId: string; model?: string; speak?: boolean }) => collect(b.trpc.chat.regenerate.mutate(input));
const edit = (b: TestBrowser, input: { messageId: string; content: string; speak?: boolean }) => collect(b.trpc.chat.edit.mutate(input));

/** The conversation as the model saw it in the last provider request: roles and text, system prompt left out. */
function lastContext(): Array<[string, string]> {
  const body = fake.requests.at(-1)!.body as { messages: Array<{ role: string; content: string }> };
  return body.messages.filter((m) => m.role !== 'system').map((m) => [m.role, m.content]);
}

async function counter(userId: string, kind: string): Promise<number> {
  const rows = await server.deps.prisma.$queryRaw<{ used: bigint }[]>(Prisma.sql`
    SELECT used FROM quota_counters WHERE subject = ${userSubject(userId)} AND kind = ${kind} AND period_start = ${dayStart(new Date())}::timestamptz`);
  return Number(rows[0]?.used ?? 0);
}

/** Everything a refused request could have written. */
async function footprint(userId: string) {
  const [messages, reservations, events] = await Promise.all([
    server.deps.prisma.message.count({ where: { userId } }),
    server.deps.prisma.reservation.count({ where: { userId } }),
    server.deps.prisma.usageEvent.count({ where: { userId } }),
  ]);
  const conversations = await server.deps.prisma.conversation.findMany({ where: { userId }, select: { messageCount: true, activeLeafId: true } });
  return { messages, reservations, events, conversations, messagesDay: await counter(userId, COUNTER.messagesDay) };
}

describe('chat.regenerate', () => {
  it('streams a new reply to the same message, metered like a message; both versions are kept and the chosen one is remembered', async () => {
    const { b, id } = await freeUser();
    fake.enqueue({ reply: 'Four.' });
    const first = await send(b, { content: 'What is 2 + 2?' });
    const conversationId = first.start!.conversationId;
    fake.enqueue({ reply: 'Two plus two is four.' });
    const again = await regenerate(b, { messageId: first.start!.messageId });

    // Same events as chat.send: start (the same user message answered), deltas, done with usage.
    expect(again.events.map((e) => e.type)).toEqual(['start', ...again.events.slice(1, -1).map(() => 'delta'), 'done']);
    expect(again.start).toMatchObject({ conversationId, userMessageId: first.start!.userMessageId });
    expect(again.start!.messageId).not.toBe(first.start!.messageId);
    expect(again.text).toBe('Two plus two is four.');
    expect(again.done).toMatchObject({ status: 'ok', cached: false, finishReason: 'stop' });
    expect(again.done!.usage.costMicroUsd).toBeGreaterThan(0);
    // The model saw the question, not the reply being replaced.
    expect(lastContext()).toEqual([['user', 'What is 2 + 2?']]);

    // Metered as a message: one more usage event, one more message today, no new user message.
    const events = await server.deps.prisma.usageEvent.findMany({
      where: { userId: id },
      orderBy: { id: 'asc' },
      select: { costMicroUsd: true, status: true },
    });
    expect(events).toHaveLength(2);
    expect(Number(events[1]!.costMicroUsd)).toBe(again.done!.usage.costMicroUsd);
    expect(await counter(id, COUNTER.messagesDay)).toBe(2);
    expect(await server.deps.prisma.message.count({ where: { conversationId } })).toBe(3);
    expect((await server.deps.prisma.conversation.findUniqueOrThrow({ where: { id: conversationId }, select: { messageCount: true } })).messageCount).toBe(3);

    const page = await b.trpc.chat.messages.query({ conversationId });
    expect(page.items.map((m) => [m.role, m.content])).toEqual([
      ['assistant', 'Two plus two is four.'],
      ['user', 'What is 2 + 2?'],
    ]);
    const ids = [first.start!.messageId, again.start!.messageId];
    expect(page.items[0]!.versions).toEqual({ index: 1, count: 2, ids });
    expect(page.items[0]!.usage).toMatchObject({ costMicroUsd: again.done!.usage.costMicroUsd, estimated: false });
    expect(page.items[1]!.versions).toBeNull();

    // Back to the first version: remembered for the next read (a reload).
    expect(await b.trpc.chat.selectVersion.mutate({ messageId: first.start!.messageId })).toEqual({ conversationId, leafId: first.start!.messageId });
    const back = await b.trpc.chat.messages.query({ conversationId });
    expect(back.items[0]).toMatchObject({ id: first.start!.messageId, content: 'Four.', versions: { index: 0, count: 2, ids } });

    // The next message follows the version shown.
    fake.enqueue({ reply: 'Eight.' });
    await send(b, { content: 'And doubled?', conversationId });
    expect(lastContext()).toEqual([
      ['user', 'What is 2 + 2?'],
      ['assistant', 'Four.'],
      ['user', 'And doubled?'],
    ]);
  });

  it('is never answered from the response cache, though the question was', async () => {
    const { b } = await freeUser();
    fake.enqueue({ reply: 'Cached answer.' });
    const first = await send(b, { content: 'A question asked once, for the cache' });
    const before = fake.requests.length;
    fake.enqueue({ reply: 'A fresh answer.' });
    const again = await regenerate(b, { messageId: first.start!.messageId });
    expect(again.done).toMatchObject({ cached: false, status: 'ok' });
    expect(again.text).toBe('A fresh answer.');
    expect(fake.requests.length).toBe(before + 1);
  });

  it('regenerating an earlier reply branches there: the later messages stay with the first version', async () => {
    const { b } = await freeUser();
    fake.enqueue({ reply: 'A1' }, { reply: 'A2' }, { reply: 'A1 again' });
    const one = await send(b, { content: 'one' });
    const conversationId = one.start!.conversationId;
    const two = await send(b, { content: 'two', conversationId });
    const again = await regenerate(b, { messageId: one.start!.messageId });
    expect(lastContext()).toEqual([['user', 'one']]);
    const page = await b.trpc.chat.messages.query({ conversationId });
    expect(page.items.map((m) => m.content)).toEqual(['A1 again', 'one']);
    // The first version's branch comes back with its later messages.
    await b.trpc.chat.selectVersion.mutate({ messageId: one.start!.messageId });
    const back = await b.trpc.chat.messages.query({ conversationId });
    expect(back.items.map((m) => m.id)).toEqual([two.start!.messageId, two.start!.userMessageId, one.start!.messageId, one.start!.userMessageId]);
    expect(back.items[2]!.versions).toEqual({ index: 0, count: 2, ids: [one.start!.messageId, again.start!.messageId] });
  });
});

describe('chat.edit', () => {
  it('adds a new version of the message and a reply under it; the model sees the path above it; paging follows the active path', async () => {
    const { b, id } = await freeUser();
    fake.enqueue({ reply: 'R1' }, { reply: 'R2' }, { reply: 'R3' });
    const one = await send(b, { content: 'one (edit test)' });
    const conversationId = one.start!.conversationId;
    await send(b, { content: 'two', conversationId });
    await send(b, { content: 'three', conversationId });

    fake.enqueue({ reply: 'R2 edited' });
    const edited = await edit(b, { messageId: await userMessageOf(b, conversationId, 'two'), content: 'deux' });
    expect(edited.start!.conversationId).toBe(conversationId);
    expect(edited.text).toBe('R2 edited');
    expect(edited.done).toMatchObject({ status: 'ok' });
    expect(lastContext()).toEqual([
      ['user', 'one (edit test)'],
      ['assistant', 'R1'],
      ['user', 'deux'],
    ]);
    expect(await counter(id, COUNTER.messagesDay)).toBe(4);
    expect(await server.deps.prisma.usageEvent.count({ where: { userId: id } })).toBe(4);
    // Nothing is deleted: 6 messages of the first line, 2 of the edit.
    expect(await server.deps.prisma.message.count({ where: { conversationId } })).toBe(8);

    const page = await b.trpc.chat.messages.query({ conversationId });
    expect(page.items.map((m) => m.content)).toEqual(['R2 edited', 'deux', 'R1', 'one (edit test)']);
    expect(page.items[1]!.versions).toMatchObject({ index: 1, count: 2 });
    expect(page.items[1]!.versions!.ids[1]).toBe(edited.start!.userMessageId);

    // Paging (keyset cursor) walks the same path.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const p = await b.trpc.chat.messages.query({ conversationId, limit: 1, ...(cursor ? { cursor } : {}) });
      seen.push(...p.items.map((m) => m.content));
      cursor = p.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(['R2 edited', 'deux', 'R1', 'one (edit test)']);

    // The original version comes back with everything that followed it.
    await b.trpc.chat.selectVersion.mutate({ messageId: page.items[1]!.versions!.ids[0]! });
    const original = await b.trpc.chat.messages.query({ conversationId });
    expect(original.items.map((m) => m.content)).toEqual(['R3', 'three', 'R2', 'two', 'R1', 'one (edit test)']);
    expect(original.items[3]!.versions).toMatchObject({ index: 0, count: 2 });

    // Search, export and deletion see every version.
    const hits = await b.trpc.chat.searchConversations.query({ query: 'deux' });
    expect(hits.items.map((h) => h.messageId)).toEqual([edited.start!.userMessageId]);
    const exported = await b.trpc.account.exportData.query();
    const conversation = exported.conversations.find((c) => c.id === conversationId)!;
    expect(conversation.messages).toHaveLength(8);
    const deux = conversation.messages.find((m) => m.content === 'deux')!;
    const two = conversation.messages.find((m) => m.content === 'two')!;
    expect(deux.parentId).toBe(two.parentId);
    await b.trpc.chat.deleteConversation.mutate({ conversationId });
    expect((await trpcError(b.trpc.chat.messages.query({ conversationId }))).reason).toBe('not_found');
    expect((await trpcError(edit(b, { messageId: edited.start!.userMessageId, content: 'after deletion' }))).reason).toBe('not_found');
  });

  it('editing the first message starts a second version of the whole conversation', async () => {
    const { b } = await freeUser();
    fake.enqueue({ reply: 'Hi.' }, { reply: 'Bonjour.' });
    const first = await send(b, { content: 'Hello (first message edit test)' });
    const conversationId = first.start!.conversationId;
    const edited = await edit(b, { messageId: first.start!.userMessageId, content: 'Bonjour' });
    expect(lastContext()).toEqual([['user', 'Bonjour']]);
    const page = await b.trpc.chat.messages.query({ conversationId });
    expect(page.items.map((m) => m.content)).toEqual(['Bonjour.', 'Bonjour']);
    expect(page.items[1]!.versions).toEqual({ index: 1, count: 2, ids: [first.start!.userMessageId, edited.start!.userMessageId] });
  });
});

/** The id of the user message with this text on the active path. */
async function userMessageOf(b: TestBrowser, conversationId: string, content: string): Promise<string> {
  const page = await b.trpc.chat.messages.query({ conversationId });
  return page.items.find((m) => m.role === 'user' && m.content === content)!.id;
}

describe('who may regenerate or edit what, and when', () => {
  it('a user message cannot be regenerated, a reply cannot be edited (invalid_input); nobody else’s message is found', async () => {
    const { b } = await freeUser();
    const other = await freeUser();
    const first = await send(b, { content: 'Mine' });
    const asUser = await trpcError(regenerate(b, { messageId: first.start!.userMessageId }));
    expect(asUser).toMatchObject({ reason: 'invalid_input', code: 'BAD_REQUEST' });
    expect(asUser.message).toMatch(/Only a reply can be regenerated/);
    const asReply = await trpcError(edit(b, { messageId: first.start!.messageId, content: 'changed' }));
    expect(asReply).toMatchObject({ reason: 'invalid_input', code: 'BAD_REQUEST' });
    expect(asReply.message).toMatch(/Only your own messages can be edited/);

    const before = await footprint(other.id);
    for (const attempt of [
      () => regenerate(other.b, { messageId: first.start!.messageId }),
      () => edit(other.b, { messageId: first.start!.userMessageId, content: 'hijack' }),
      () => other.b.trpc.chat.selectVersion.mutate({ messageId: first.start!.messageId }),
      () => regenerate(other.b, { messageId: crypto.randomUUID() }),
    ]) {
      expect(await trpcError(attempt())).toMatchObject({ reason: 'not_found', code: 'NOT_FOUND', message: 'That message does not exist.' });
    }
    expect(await footprint(other.id)).toEqual(before);
    expect((await trpcError(edit(b, { messageId: first.start!.userMessageId, content: '   ' }))).reason).toBe('invalid_input');
  });

  it('not while a reply of the same conversation is streaming (conflict), and nothing is written', async () => {
    const { b, id } = await freeUser();
    fake.enqueue({ reply: 'First.' });
    const first = await send(b, { content: 'first' });
    const conversationId = first.start!.conversationId;
    fake.enqueue({ reply: 'one two three four five six seven eight', chunks: 8, chunkDelayMs: 150 });
    const slow = send(b, { content: 'second', conversationId });
    await fake.waitForRequests(fake.requests.length + 1);
    const before = await footprint(id);
    const busy = await trpcError(regenerate(b, { messageId: first.start!.messageId }));
    expect(busy).toMatchObject({ reason: 'conflict', code: 'CONFLICT' });
    expect(busy.message).toMatch(/still being written/);
    expect((await trpcError(edit(b, { messageId: first.start!.userMessageId, content: 'first, edited' }))).reason).toBe('conflict');
    expect(await footprint(id)).toEqual(before);
    await slow;
    // Once it has settled, the same request goes through.
    fake.enqueue({ reply: 'First, again.' });
    expect((await regenerate(b, { messageId: first.start!.messageId })).done).toMatchObject({ status: 'ok' });
  });

  it('a refusal at a limit writes nothing: no message, no reservation, no usage, counters and leaf unchanged', async () => {
    const { b, id } = await freeUser();
    fake.enqueue({ reply: 'Answer.' });
    const first = await send(b, { content: 'question' });
    await server.deps.prisma.$executeRaw(Prisma.sql`
      UPDATE quota_counters SET used = 20 WHERE subject = ${userSubject(id)} AND kind = ${COUNTER.messagesDay} AND period_start = ${dayStart(new Date())}::timestamptz`);
    const before = await footprint(id);
    const requests = fake.requests.length;
    for (const attempt of [
      () => regenerate(b, { messageId: first.start!.messageId }),
      () => edit(b, { messageId: first.start!.userMessageId, content: 'question, edited' }),
    ]) {
      const refusal = await trpcError(attempt());
      expect(refusal).toMatchObject({ reason: 'quota_exhausted', code: 'PAYMENT_REQUIRED' });
      expect(refusal.data.limit).toBe('messagesPerDay');
    }
    expect(await footprint(id)).toEqual(before);
    expect(fake.requests.length).toBe(requests);
  });

  it('a stopped regeneration is settled like a stopped message and kept as a version', async () => {
    const { b, id } = await freeUser();
    fake.enqueue({ reply: 'Short.' });
    const first = await send(b, { content: 'Tell me something' });
    const conversationId = first.start!.conversationId;
    fake.enqueue({ reply: 'one two three four five six seven eight nine ten', chunks: 10, chunkDelayMs: 80 });
    const controller = new AbortController();
    const stream = await b.trpc.chat.regenerate.mutate({ messageId: first.start!.messageId }, { signal: controller.signal });
    try {
      for await (const event of stream) if (event.type === 'delta') controller.abort();
    } catch {
      // aborted
    }
    const page = await eventually(async () => {
      const p = await b.trpc.chat.messages.query({ conversationId });
      expect(p.items[0]!.status).toBe('aborted');
      return p;
    });
    expect(page.items[0]!.versions).toMatchObject({ index: 1, count: 2 });
    const statuses = (await server.deps.prisma.usageEvent.findMany({ where: { userId: id }, orderBy: { id: 'asc' }, select: { status: true } })).map(
      (e) => e.status,
    );
    expect(statuses).toEqual(['ok', 'aborted']);
  });
});
