// A conversation's messages form a tree (migration 20261206100000_message_tree):
// each message points at the one it follows, and versions are siblings of one role
// (a regenerated reply next to the first reply, an edited message next to the
// original). The conversation shows one path, from its active leaf up to the root;
// the model's context for a new reply is the path above it. Reads here are the only
// place that walks the tree:
// - a missing leaf (never set, or deleted by retention) means the newest message;
// - a missing parent (deleted by retention) ends the path, as a root would;
// - walks are bounded by depth, so a corrupt cycle cannot loop.
// The walks are recursive CTEs, which Prisma's client cannot express (ADR 011, rule 3).
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import { AppError } from '../lib/app-error.ts';

/** Longer than any conversation a plan allows; only a corrupt cycle would reach it. */
const MAX_DEPTH = 100_000;

export interface TreeMessage {
  id: string;
  conversationId: string;
  role: string;
  content: string;
  model: string | null;
  parentId: string | null;
}

export interface PathMessage {
  id: string;
  role: string;
  content: string;
}

/**
 * The path above and including `from` (default: the conversation's active leaf), nearest first,
 * at most `limit` messages: what a new reply under it sees. Empty for a conversation without
 * messages or when `from` is null (a first message).
 */
export async function readPath(prisma: PrismaClient, conversationId: string, options: { from?: string | null; limit: number }): Promise<PathMessage[]> {
  if (options.from === null) return [];
  const start =
    options.from === undefined
      ? leafSql(conversationId)
      : Prisma.sql`SELECT m.id FROM messages m WHERE m.id = ${options.from}::uuid AND m.conversation_id = ${conversationId}::uuid`;
  return prisma.$queryRaw<PathMessage[]>(Prisma.sql`
    WITH RECURSIVE path AS (
      SELECT m.id, m.parent_id, m.role, m.content, 1 AS depth FROM messages m WHERE m.id = (${start})
      UNION ALL
      SELECT p.id, p.parent_id, p.role, p.content, path.depth + 1
        FROM path JOIN messages p ON p.id = path.parent_id AND p.conversation_id = ${conversationId}::uuid
       WHERE path.depth < ${Math.min(options.limit, MAX_DEPTH)}
    )
    SELECT id::text AS id, role, content FROM path ORDER BY depth`);
}

/** The conversation's active leaf, as a scalar subquery: the stored leaf if it still exists, else the newest message. */
function leafSql(conversationId: string): Prisma.Sql {
  return Prisma.sql`SELECT COALESCE(
      (SELECT m.id FROM conversations c JOIN messages m ON m.id = c.active_leaf_id AND m.conversation_id = c.id WHERE c.id = ${conversationId}::uuid),
      (SELECT m.id FROM messages m WHERE m.conversation_id = ${conversationId}::uuid ORDER BY m.created_at DESC, m.id DESC LIMIT 1))`;
}

/** One page of the active path for chat.messages: newest first, keyset-paged on (createdAt, id). */
export interface PathPageRow {
  id: string;
  parentId: string | null;
  role: string;
  content: string;
  model: string | null;
  status: string;
  finishReason: string | null;
  usageEventId: bigint | null;
  createdAt: Date;
  /** The message's versions (itself included), oldest first. */
  siblingIds: string[];
}

export async function readPathPage(
  prisma: PrismaClient,
  conversationId: string,
  input: { limit: number; cursor?: { at: Date; id: string } | undefined },
): Promise<PathPageRow[]> {
  const after = input.cursor ? Prisma.sql`AND (m.created_at, m.id) < (${input.cursor.at}::timestamptz, ${input.cursor.id}::uuid)` : Prisma.empty;
  // A reply is created after the message it answers, so the path's depth order is its time order.
  const rows = await prisma.$queryRaw<Array<Omit<PathPageRow, 'usageEventId'> & { usageEventId: bigint | null }>>(Prisma.sql`
    WITH RECURSIVE path AS (
      SELECT m.id, m.parent_id, 1 AS depth FROM messages m WHERE m.id = (${leafSql(conversationId)})
      UNION ALL
      SELECT p.id, p.parent_id, path.depth + 1
        FROM path JOIN messages p ON p.id = path.parent_id AND p.conversation_id = ${conversationId}::uuid
       WHERE path.depth < ${MAX_DEPTH}
    ),
    page AS (
      SELECT m.* FROM path JOIN messages m ON m.id = path.id
       WHERE TRUE ${after}
       ORDER BY m.created_at DESC, m.id DESC
       LIMIT ${input.limit}
    )
    SELECT page.id::text AS id, page.parent_id::text AS "parentId", page.role, page.content, page.model, page.status,
           page.finish_reason AS "finishReason", page.usage_event_id AS "usageEventId", page.created_at AS "createdAt",
           ARRAY(SELECT s.id::text FROM messages s
                  WHERE s.conversation_id = ${conversationId}::uuid AND s.role = page.role
                    AND (s.parent_id = page.parent_id OR (page.parent_id IS NULL AND s.parent_id IS NULL))
                  ORDER BY s.created_at, s.id) AS "siblingIds"
      FROM page
     ORDER BY page.created_at DESC, page.id DESC`);
  return rows.map((r) => ({ ...r, createdAt: new Date(r.createdAt) }));
}

/** One of the caller's messages in a conversation they have not deleted; not_found otherwise (someone else's included). */
export async function findOwnMessage(prisma: PrismaClient, userId: string, messageId: string): Promise<TreeMessage> {
  const message = await prisma.message.findFirst({
    where: { id: messageId, userId },
    select: { id: true, conversationId: true, role: true, content: true, model: true, parentId: true },
  });
  const conversation = message
    ? await prisma.conversation.findFirst({ where: { id: message.conversationId, userId, deletedAt: null }, select: { id: true } })
    : null;
  if (!message || !conversation) throw new AppError('not_found', 'That message does not exist.');
  return message;
}

/**
 * chat.selectVersion: shows the version `messageId` (one of the caller's messages) from now on.
 * The active leaf becomes the newest message of that version's branch (the message itself when
 * nothing follows it), so a reload shows the same choice. One conditional update.
 */
export async function selectVersion(prisma: PrismaClient, userId: string, messageId: string): Promise<{ conversationId: string; leafId: string }> {
  const message = await findOwnMessage(prisma, userId, messageId);
  const rows = await prisma.$queryRaw<Array<{ leaf: string }>>(Prisma.sql`
    WITH RECURSIVE branch AS (
      SELECT m.id, m.created_at, 1 AS depth FROM messages m WHERE m.id = ${message.id}::uuid
      UNION ALL
      SELECT c.id, c.created_at, branch.depth + 1
        FROM branch JOIN messages c ON c.parent_id = branch.id AND c.conversation_id = ${message.conversationId}::uuid
       WHERE branch.depth < ${MAX_DEPTH}
    ),
    leaf AS (SELECT id FROM branch ORDER BY created_at DESC, id DESC LIMIT 1)
    UPDATE conversations c SET active_leaf_id = leaf.id
      FROM leaf
     WHERE c.id = ${message.conversationId}::uuid AND c.user_id = ${userId}::uuid AND c.deleted_at IS NULL
    RETURNING leaf.id::text AS leaf`);
  const row = rows[0];
  if (!row) throw new AppError('not_found', 'That message does not exist.');
  return { conversationId: message.conversationId, leafId: row.leaf };
}
