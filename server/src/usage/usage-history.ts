// usage.history: the user's usage events, newest first, a page at a time (keyset on the
// event id), as the export shows them (usage-rows.ts).
import type { PrismaClient } from '@chatmeter/db/client';
import { decodeCursor, encodeCursor, INT_ID, keysetPage } from '../lib/cursor.ts';
import { toUsageItem, type UsageItem, usageEventSelect } from './usage-rows.ts';

export async function usageHistory(
  prisma: PrismaClient,
  userId: string,
  page: { cursor?: string | undefined; limit: number },
): Promise<{ items: UsageItem[]; nextCursor: string | null }> {
  const cursor = decodeCursor(page.cursor, INT_ID);
  const rows = await prisma.usageEvent.findMany({
    where: { userId, ...(cursor ? { id: { lt: BigInt(cursor.id) } } : {}) },
    orderBy: { id: 'desc' },
    take: page.limit + 1,
    select: usageEventSelect,
  });
  const { rows: shown, nextCursor } = keysetPage(rows, page.limit, (last) => encodeCursor(last.createdAt, last.id));
  return { items: shown.map(toUsageItem), nextCursor };
}
