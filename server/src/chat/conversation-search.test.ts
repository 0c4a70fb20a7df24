// The search on embedded PGlite (the default without DATABASE_URL): the same
// migration (GIN expression index) and query as on Postgres.
import { openDatabase, type Database } from '@chatmeter/db/client';
import { splitSnippet } from '@chatmeter/shared/chat';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renameConversation } from './conversation-rename.ts';
import { searchConversations } from './conversation-search.ts';

let db: Database;
beforeAll(async () => {
  db = await openDatabase({ dataDir: 'memory://' });
});
afterAll(async () => {
  await db?.close();
});

describe('conversation search on PGlite', () => {
  it('matches stemmed words, marks them, pages, and keeps to the caller’s live conversations', async () => {
    const prisma = db.prisma;
    const [me, other] = await Promise.all([
      prisma.user.create({ data: { email: 'me@example.com' }, select: { id: true } }),
      prisma.user.create({ data: { email: 'other@example.com' }, select: { id: true } }),
    ]);
    const at = (n: number) => new Date(Date.UTC(2026, 11, 1, 0, n));
    const conversation = async (userId: string, title: string, content: string, minute: number, deletedAt: Date | null = null) => {
      const c = await prisma.conversation.create({
        data: { userId, title, model: 'demo', createdAt: at(minute), updatedAt: at(minute), deletedAt },
        select: { id: true },
      });
      await prisma.message.create({ data: { conversationId: c.id, userId, role: 'user', content, createdAt: at(minute) } });
      return c.id;
    };
    const first = await conversation(me.id, 'Gardening', 'How often should tomatoes be watered?', 1);
    const second = await conversation(me.id, 'More gardening', 'Watering cucumbers in July', 2);
    await conversation(me.id, 'Deleted', 'watering cans compared', 3, at(4));
    await conversation(other.id, 'Theirs', 'watering the lawn', 5);
    await renameConversation(prisma, me.id, { conversationId: first, title: 'Tomatoes' });

    const page1 = await searchConversations(prisma, me.id, { query: 'water', limit: 1 });
    expect(page1.items.map((i) => [i.conversationId, i.title])).toEqual([[second, 'More gardening']]);
    expect(splitSnippet(page1.items[0]!.snippet)).toContainEqual({ text: 'Watering', match: true });
    const page2 = await searchConversations(prisma, me.id, { query: 'water', limit: 1, cursor: page1.nextCursor! });
    expect(page2.items.map((i) => [i.conversationId, i.title])).toEqual([[first, 'Tomatoes']]);
    expect(splitSnippet(page2.items[0]!.snippet)).toContainEqual({ text: 'watered', match: true });
    expect(page2.nextCursor).toBeNull();
  });
});
