-- Kept versions of a conversation (issue 15: regenerate a reply, edit a message and
-- resend it): the messages of a conversation form a tree, as ChatGPT and LibreChat
-- keep them. Each message points at the message it follows (`parent_id`; NULL for
-- a first message); versions are siblings (same parent, same role). The conversation
-- shows one path, from its active leaf (`conversations.active_leaf_id`) up to the
-- root; switching versions moves the leaf (server/src/chat/message-tree.ts).
--
-- No foreign keys, like the rest of `messages`: retention deletes old messages by age,
-- and a path simply ends where its parent is gone (the readers treat a missing parent
-- as the root, and a missing leaf as "the newest message").
ALTER TABLE "messages" ADD COLUMN "parent_id" UUID;
CREATE INDEX "messages_parent_id_idx" ON "messages" ("parent_id");
ALTER TABLE "conversations" ADD COLUMN "active_leaf_id" UUID;

-- A chat reservation names the user message its reply answers, and whether it is a
-- regeneration (the reply then becomes the active leaf even though the leaf was
-- elsewhere); cm_settle_chat stores the reply under that message.
ALTER TABLE "reservations" ADD COLUMN "user_message_id" UUID;
ALTER TABLE "reservations" ADD COLUMN "regenerate" BOOLEAN NOT NULL DEFAULT false;

-- Existing conversations were linear: each message follows the one before it.
UPDATE "messages" m SET "parent_id" = o.prev
  FROM (SELECT id, lag(id) OVER (PARTITION BY conversation_id ORDER BY created_at, id) AS prev FROM "messages") o
 WHERE o.id = m.id AND o.prev IS NOT NULL;
UPDATE "conversations" c SET "active_leaf_id" = (
  SELECT m.id FROM "messages" m WHERE m.conversation_id = c.id ORDER BY m.created_at DESC, m.id DESC LIMIT 1);

-- cm_reserve_chat learns the parent of the new user message, the user message a
-- regeneration answers, and `exclusive` (edit and regenerate are refused while a reply of
-- the conversation is streaming); cm_meter_batch passes them; cm_settle_chat stores the
-- reply under its user message and moves the leaf: prisma/sql/functions/ (ADR 010).
