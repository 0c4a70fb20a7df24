-- chat.searchConversations: full-text search over the caller's messages
-- (server/src/chat/conversation-search.ts). An expression index rather than a
-- stored tsvector column: nothing to keep in step on insert, no column for the
-- Prisma model to know about, and the same SQL runs on Postgres and PGlite.
-- The query must use the very expression below (config 'english', the text as
-- stored) for the planner to pick the index.
CREATE INDEX "messages_content_fts_idx" ON "messages" USING GIN (to_tsvector('english'::regconfig, "content"));
