// chat.conversations: the user's conversations, most recently updated first, a page at a
// time (keyset on updated_at, id); deleted ones are not listed.
import type { PrismaClient } from '@chatmeter/db/client';
import { decodeCursor, encodeCursor, keysetPage } from '../lib/cursor.ts';

export interface ConversationListItem {
  id: string;
  title: string;
  model: string;
  messageCount: number;
  createdAt: Date;
  updatedAt: Date;
}

export async function listConversations(
  prisma: PrismaClient,
  userId: string,
  page: { cursor?: string | undefined; limit: number },
): Promise<{ items: ConversationListItem[]; nextCursor: string | null }> {
  const cursor = decodeCursor(page.cursor);
  const rows = await prisma.conversation.findMany({
    where: {
      userId,
      deletedAt: null,
      ...(cursor ? { OR: [{ updatedAt: { lt: cursor.at } }, { updatedAt: cursor.at, id: { lt: cursor.id } }] } : {}),
    },
    orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }],
    take: page.limit + 1,
    select: { id: true, title: true, model: true, messageCount: true, createdAt: true, updatedAt: true },
  });
  const { rows: items, nextCursor } = keysetPage(rows, page.limit, (last) => encodeCursor(last.updatedAt, last.id));
  return { items, nextCursor };
}
