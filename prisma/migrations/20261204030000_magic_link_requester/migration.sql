-- The session a magic link was requested from (NULL: none). Only that session,
-- when it is a guest's, may be turned into the link's new account: a guest who
-- opens a link someone else requested keeps its conversations to itself.
ALTER TABLE "magic_link_tokens" ADD COLUMN "requested_by_session_id" TEXT;
