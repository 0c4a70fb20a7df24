// chat.renameConversation and chat.searchConversations over HTTP: own live
// conversations only, validated titles, full-text matches with safe highlight
// markers, keyset paging, and nothing of other users or deleted conversations.
import { SNIPPET_MATCH_END, SNIPPET_MATCH_START, splitSnippet } from '@chatmeter/shared/chat';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../../test/helpers/chat.ts';
import { startTestServer, trpcError, type TestBrowser, type TestServer } from '../../test/helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

let counter = 0;
async function account(): Promise<TestBrowser> {
  const b = server.browser();
  await b.trpc.auth.signUp.mutate({ email: `conv${++counter}-${Date.now()}@example.com`, password: 'correct horse battery staple' });
  return b;
}

async function conversationWith(b: TestBrowser, content: string): Promise<string> {
  const { start } = await send(b, { content });
  return start!.conversationId;
}

describe('chat.renameConversation', () => {
  it('renames the caller’s conversation (trimmed, control characters folded) without moving it up the list', async () => {
    const b = await account();
    const first = await conversationWith(b, 'first one');
    const second = await conversationWith(b, 'second one');
    const before = await b.trpc.chat.conversations.query();
    expect(before.items.map((c) => c.id)).toEqual([second, first]);

    expect(await b.trpc.chat.renameConversation.mutate({ conversationId: first, title: '  Trip\nplans\t2027  ' })).toEqual({
      id: first,
      title: 'Trip plans 2027',
    });
    const after = await b.trpc.chat.conversations.query();
    expect(after.items.map((c) => [c.id, c.title])).toEqual([
      [second, 'second one'],
      [first, 'Trip plans 2027'],
    ]);
    expect(after.items[1]!.updatedAt).toEqual(before.items[1]!.updatedAt);
  });

  it('refuses an empty or too long title with field errors, and someone else’s or a deleted conversation as not_found', async () => {
    const owner = await account();
    const other = await account();
    const id = await conversationWith(owner, 'mine');

    const empty = await trpcError(owner.trpc.chat.renameConversation.mutate({ conversationId: id, title: ' \n ' }));
    expect(empty).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(empty.data.fieldErrors).toHaveProperty('title');
    const long = await trpcError(owner.trpc.chat.renameConversation.mutate({ conversationId: id, title: 'x'.repeat(121) }));
    expect(long).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });

    expect(await trpcError(other.trpc.chat.renameConversation.mutate({ conversationId: id, title: 'stolen' }))).toMatchObject({
      code: 'NOT_FOUND',
      reason: 'not_found',
    });
    const row = await server.deps.prisma.conversation.findUniqueOrThrow({ where: { id }, select: { title: true } });
    expect(row.title).toBe('mine');

    await owner.trpc.chat.deleteConversation.mutate({ conversationId: id });
    expect(await trpcError(owner.trpc.chat.renameConversation.mutate({ conversationId: id, title: 'gone' }))).toMatchObject({
      code: 'NOT_FOUND',
      reason: 'not_found',
    });
    expect(await trpcError(server.browser().trpc.chat.renameConversation.mutate({ conversationId: id, title: 'x' }))).toMatchObject({ code: 'UNAUTHORIZED' });
  });
});

describe('chat.searchConversations', () => {
  it('finds stemmed words in the caller’s messages, newest first, with the matches marked', async () => {
    const b = await account();
    const older = await conversationWith(b, 'Planning a hiking trip to the Alps');
    const newer = await conversationWith(b, 'Which boots are best for hikes in the snow?');
    await conversationWith(b, 'Something about databases');
    await b.trpc.chat.renameConversation.mutate({ conversationId: older, title: 'Alps' });

    const result = await b.trpc.chat.searchConversations.query({ query: 'hike' });
    expect(result.nextCursor).toBeNull();
    expect(result.items.map((i) => i.conversationId)).toEqual([newer, older]);
    const [first, second] = result.items;
    expect(second).toMatchObject({ conversationId: older, title: 'Alps' });
    expect(first!.createdAt).toBeInstanceOf(Date);
    // One hit per conversation: its newest matching message (the demo model's reply echoes the topic).
    for (const [hit, word] of [
      [first!, 'hikes'],
      [second!, 'hiking'],
    ] as const) {
      expect(splitSnippet(hit.snippet)).toContainEqual({ text: word, match: true });
      const message = await server.deps.prisma.message.findUniqueOrThrow({
        where: { id: hit.messageId },
        select: { conversationId: true, content: true, createdAt: true },
      });
      expect(message.conversationId).toBe(hit.conversationId);
      expect(message.content).toContain(word);
      expect(message.createdAt).toEqual(hit.createdAt);
      const newer = await server.deps.prisma.message.findMany({
        where: { conversationId: hit.conversationId, createdAt: { gt: message.createdAt } },
        select: { content: true },
      });
      expect(newer.filter((m) => /hik/i.test(m.content))).toEqual([]);
    }
  });

  it('pages with a keyset cursor, without repeats or gaps', async () => {
    const b = await account();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await conversationWith(b, `kangaroo number ${i}`));
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await b.trpc.chat.searchConversations.query({ query: 'kangaroo', limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((i) => i.conversationId));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());
    expect(await trpcError(b.trpc.chat.searchConversations.query({ query: 'kangaroo', cursor: 'bm9wZQ' }))).toMatchObject({
      code: 'BAD_REQUEST',
      reason: 'invalid_input',
    });
  });

  it('never returns other users’ messages or deleted conversations', async () => {
    const owner = await account();
    const other = await account();
    const kept = await conversationWith(owner, 'the zeppelin budget');
    const deleted = await conversationWith(owner, 'the zeppelin secret');
    await conversationWith(other, 'another zeppelin');
    await owner.trpc.chat.deleteConversation.mutate({ conversationId: deleted });

    const mine = await owner.trpc.chat.searchConversations.query({ query: 'zeppelin' });
    expect(mine.items.map((i) => i.conversationId)).toEqual([kept]);
    const theirs = await other.trpc.chat.searchConversations.query({ query: 'zeppelin secret' });
    expect(theirs.items).toEqual([]);
  });

  it('keeps markup as text and cannot be fooled by marker characters in a message', async () => {
    const b = await account();
    const content = `<img src=x onerror=alert(1)> walrus ${SNIPPET_MATCH_END}fake${SNIPPET_MATCH_START} tusk`;
    await conversationWith(b, content);
    const { items } = await b.trpc.chat.searchConversations.query({ query: 'walrus' });
    expect(items).toHaveLength(1);
    const parts = splitSnippet(items[0]!.snippet);
    expect(parts.filter((p) => p.match).map((p) => p.text)).toEqual(['walrus']);
    expect(parts.map((p) => p.text).join('')).toContain('fake');
  });

  it('understands phrases and exclusions, answers a stop-word-only query with nothing, and refuses bad input', async () => {
    const b = await account();
    await conversationWith(b, 'red panda facts');
    await conversationWith(b, 'the panda is red');
    expect((await b.trpc.chat.searchConversations.query({ query: '"red panda"' })).items).toHaveLength(1);
    expect((await b.trpc.chat.searchConversations.query({ query: 'panda -facts' })).items).toHaveLength(1);
    expect((await b.trpc.chat.searchConversations.query({ query: 'the' })).items).toEqual([]);
    expect((await b.trpc.chat.searchConversations.query({ query: '(((' })).items).toEqual([]);
    expect(await trpcError(b.trpc.chat.searchConversations.query({ query: '   ' }))).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(await trpcError(b.trpc.chat.searchConversations.query({ query: 'x'.repeat(201) }))).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(await trpcError(server.browser().trpc.chat.searchConversations.query({ query: 'panda' }))).toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('uses the GIN expression index for the match', async () => {
    // With sequential scans priced out, the plan shows whether the query's expression matches the index's.
    const plan = await server.deps.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe('SET LOCAL enable_seqscan = off');
      return tx.$queryRawUnsafe<Array<{ 'QUERY PLAN': string }>>(
        `EXPLAIN SELECT id FROM messages m WHERE to_tsvector('english'::regconfig, m.content) @@ websearch_to_tsquery('english'::regconfig, 'walrus')`,
      );
    });
    expect(plan.map((row) => row['QUERY PLAN']).join('\n')).toContain('messages_content_fts_idx');
  });
});
