// The user's in-app notifications (written by alerts/alert-service.ts): newest
// first, the unread count for the bell, marking read.
import type { Prisma, PrismaClient } from '@chatmeter/db/client';
import type { TNotificationsMarkReadInput } from '@chatmeter/shared/notifications';
import { decodeCursor, encodeCursor, INT_ID, keysetPage } from '../lib/cursor.ts';

const notificationSelect = {
  id: true,
  kind: true,
  threshold: true,
  periodKey: true,
  title: true,
  body: true,
  readAt: true,
  createdAt: true,
} satisfies Prisma.NotificationSelect;

export class NotificationService {
  constructor(private readonly prisma: PrismaClient) {}

  /** One page of notifications, newest first; `cursor` is the previous page's `nextCursor`. */
  async list(userId: string, page: { cursor?: string | undefined; limit: number }) {
    const cursor = decodeCursor(page.cursor, INT_ID);
    const rows = await this.prisma.notification.findMany({
      where: { userId, ...(cursor ? { id: { lt: BigInt(cursor.id) } } : {}) },
      orderBy: { id: 'desc' },
      take: page.limit + 1,
      select: notificationSelect,
    });
    const { rows: shown, nextCursor } = keysetPage(rows, page.limit, (last) => encodeCursor(last.createdAt, last.id));
    return { items: shown.map((r) => ({ ...r, id: r.id.toString() })), nextCursor };
  }

  async unreadCount(userId: string): Promise<{ count: number }> {
    return { count: await this.prisma.notification.count({ where: { userId, readAt: null } }) };
  }

  /** Marks the user's own notifications read (ids of others are ignored); returns how many changed. */
  async markRead(userId: string, input: TNotificationsMarkReadInput): Promise<{ updated: number }> {
    const { count } = await this.prisma.notification.updateMany({
      where: { userId, readAt: null, ...('ids' in input ? { id: { in: input.ids.map((id) => BigInt(id)) } } : {}) },
      data: { readAt: new Date() },
    });
    return { updated: count };
  }
}
