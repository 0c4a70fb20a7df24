// The user's in-app notifications (written by alerts/alert-service.ts): newest
// first, the unread count for the bell, marking read.
import type { Prisma, PrismaClient } from '@chatmeter/db/client';
import type { TNotificationsMarkReadInput } from '@chatmeter/shared/notifications';

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

  /** Up to `take` notifications older than `beforeId` (the page's keyset), newest first. */
  async list(userId: string, page: { beforeId?: bigint | undefined; take: number }) {
    const rows = await this.prisma.notification.findMany({
      where: { userId, ...(page.beforeId !== undefined ? { id: { lt: page.beforeId } } : {}) },
      orderBy: { id: 'desc' },
      take: page.take,
      select: notificationSelect,
    });
    return rows.map((r) => ({ ...r, id: r.id.toString() }));
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
