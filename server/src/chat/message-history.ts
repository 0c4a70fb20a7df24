// One conversation's messages as `chat.messages` lists them: the active path (the
// versions the user chose, message-tree.ts), newest first, keyset paged, each
// assistant reply with the usage it was metered for (its usage event, joined on
// messages.usage_event_id) so that a reload shows tokens and cost, and each message
// with its versions when it has some.
import type { PrismaClient } from '@chatmeter/db/client';
import { AppError } from '../lib/app-error.ts';
import { decodeCursor, encodeCursor, keysetPage } from '../lib/cursor.ts';
import { readPathPage } from './message-tree.ts';

export interface MessageUsage {
  promptTokens: number;
  completionTokens: number;
  costMicroUsd: number;
  /** Counted by ChatMeter (the provider sent no usage, or the reply was swept after its server died). */
  estimated: boolean;
}

export interface HistoryMessage {
  id: string;
  role: string;
  content: string;
  model: string | null;
  /** `ok`, `cached`, `aborted` (stopped), `error` (the provider broke off), `interrupted` (the server died mid-stream). */
  status: string;
  finishReason: string | null;
  /** The metered usage of an assistant reply; null for user messages (and replies never metered). */
  usage: MessageUsage | null;
  createdAt: Date;
  /** The message's versions (same parent, same role), oldest first; `index` is this one's (0-based). Null when it has none. */
  versions: MessageVersions | null;
}

export interface MessageVersions {
  index: number;
  count: number;
  ids: string[];
}

const usageSelect = { id: true, promptTokens: true, completionTokens: true, costMicroUsd: true, estimated: true } as const;

export async function listMessages(
  prisma: PrismaClient,
  userId: string,
  input: { conversationId: string; limit: number; cursor?: string | undefined },
): Promise<{ items: HistoryMessage[]; nextCursor: string | null }> {
  const owned = await prisma.conversation.findFirst({
    where: { id: input.conversationId, userId, deletedAt: null },
    select: { id: true },
  });
  if (!owned) throw new AppError('not_found', 'That conversation does not exist.');
  const rows = await readPathPage(prisma, input.conversationId, { limit: input.limit + 1, cursor: decodeCursor(input.cursor) });
  const { rows: page, nextCursor } = keysetPage(rows, input.limit, (last) => encodeCursor(last.createdAt, last.id));
  const eventIds = page.flatMap((m) => (m.usageEventId === null ? [] : [m.usageEventId]));
  // One read for the page's usage events (primary key lookups), not one per message.
  const events = eventIds.length === 0 ? [] : await prisma.usageEvent.findMany({ where: { id: { in: eventIds } }, select: usageSelect });
  const byId = new Map(events.map((e) => [e.id, e]));
  const items = page.map(({ usageEventId, siblingIds, parentId: _parent, ...m }): HistoryMessage => {
    const event = usageEventId === null ? undefined : byId.get(usageEventId);
    return {
      ...m,
      versions: siblingIds.length > 1 ? { index: siblingIds.indexOf(m.id), count: siblingIds.length, ids: siblingIds } : null,
      usage: event
        ? { promptTokens: event.promptTokens, completionTokens: event.completionTokens, costMicroUsd: Number(event.costMicroUsd), estimated: event.estimated }
        : null,
    };
  });
  return { items, nextCursor };
}
