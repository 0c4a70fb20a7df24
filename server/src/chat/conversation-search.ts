// chat.searchConversations: Postgres full-text search over the caller's own
// messages in conversations they have not deleted. Each conversation appears
// once, with its newest matching message; newest first, paged by that message's
// (created_at, id). The GIN expression index of migration
// 20261205110000_conversation_search serves the match; this file must use the
// very same expression, to_tsvector('english'::regconfig, content).
//
// Snippets come from ts_headline with two private-use characters as the match
// markers (shared/src/chat.ts, SNIPPET_MATCH_*), stripped from the text first so
// a message cannot forge one. The client splits on them and renders text only:
// no HTML ever travels in a snippet.
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import { SNIPPET_MATCH_END, SNIPPET_MATCH_START } from '@chatmeter/shared/chat';
import { decodeCursor, encodeCursor, keysetPage } from '../lib/cursor.ts';

export interface SearchHit {
  conversationId: string;
  title: string;
  messageId: string;
  snippet: string;
  createdAt: Date;
}

const HEADLINE_OPTIONS = [
  `StartSel=${SNIPPET_MATCH_START}`,
  `StopSel=${SNIPPET_MATCH_END}`,
  'MaxWords=24',
  'MinWords=10',
  'ShortWord=2',
  'MaxFragments=2',
  'FragmentDelimiter=" … "',
].join(', ');

/** Snippets are made from at most this much of a message: ts_headline parses the whole text it is given. */
const SNIPPET_SOURCE_CHARS = 20_000;

export async function searchConversations(
  prisma: PrismaClient,
  userId: string,
  input: { query: string; cursor?: string | undefined; limit: number },
): Promise<{ items: SearchHit[]; nextCursor: string | null }> {
  const cursor = decodeCursor(input.cursor);
  const after = cursor ? Prisma.sql`AND (created_at, id) < (${cursor.at}::timestamptz, ${cursor.id}::uuid)` : Prisma.empty;
  // One hit per conversation: its newest matching message. The page is chosen first (index match,
  // keyset order, limit); only its rows get a headline.
  const rows = await prisma.$queryRaw<Array<{ conversation_id: string; title: string; message_id: string; created_at: Date; snippet: string }>>(Prisma.sql`
    WITH q AS (SELECT websearch_to_tsquery('english'::regconfig, ${input.query}) AS query),
    best AS (
      SELECT DISTINCT ON (m.conversation_id) m.id, m.conversation_id, m.created_at, m.content, c.title
        FROM messages m
        JOIN conversations c ON c.id = m.conversation_id
        CROSS JOIN q
       WHERE m.user_id = ${userId}::uuid
         AND c.user_id = ${userId}::uuid
         AND c.deleted_at IS NULL
         AND to_tsvector('english'::regconfig, m.content) @@ q.query
       ORDER BY m.conversation_id, m.created_at DESC, m.id DESC
    ),
    page AS (
      SELECT * FROM best
       WHERE TRUE ${after}
       ORDER BY created_at DESC, id DESC
       LIMIT ${input.limit + 1}
    )
    SELECT page.conversation_id::text AS conversation_id, page.title, page.id::text AS message_id, page.created_at,
           ts_headline('english'::regconfig,
                       translate(left(page.content, ${SNIPPET_SOURCE_CHARS}), ${SNIPPET_MATCH_START + SNIPPET_MATCH_END}, ''),
                       q.query, ${HEADLINE_OPTIONS}) AS snippet
      FROM page CROSS JOIN q
     ORDER BY page.created_at DESC, page.id DESC`);
  const { rows: page, nextCursor } = keysetPage(rows, input.limit, (last) => encodeCursor(new Date(last.created_at), last.message_id));
  const items = page.map((row) => ({
    conversationId: row.conversation_id,
    title: row.title,
    messageId: row.message_id,
    snippet: row.snippet,
    createdAt: new Date(row.created_at),
  }));
  return { items, nextCursor };
}
