-- A reply the user saw must not be lost when its server dies mid-stream (issue 15:
-- two user messages in a row after a restart). While a reply streams, the chat
-- service saves what it has relayed so far in its reservation, at most once a
-- second (server/src/chat/chat-service.ts); the sweeper, settling the reservation
-- after its expiry, stores that text as the assistant message, marked
-- 'interrupted' (server/src/metering/sweeper.ts). The text leaves the reservation
-- when it settles (settle items say `clear_partial`) and when the account is
-- deleted (account-data.ts).
ALTER TABLE "reservations" ADD COLUMN "partial_content" TEXT;

-- cm_meter_batch_replies learns two optional fields of a settle item (`message_status`,
-- `clear_partial`): prisma/sql/functions/cm_meter_batch_replies.sql (ADR 010).
