-- A reply read aloud while it streams (chat.send with speak: true) is spoken sentence by
-- sentence, one clip each, in reply order (idx 0, 1, 2...). A row is written as soon as its
-- sentence is spoken, before the reply's message row exists (it is stored when the reply
-- settles), so message_id has no foreign key: the conversation and the user hold the rows.
-- The row is also the owner's access to the clip (GET /audio/:id), as spoken_messages are.
-- Deleting the conversation or the account removes the rows (tts/spoken-audio.ts, and the
-- cascades here); retention removes those whose message it deleted (admin/retention.ts);
-- evicting a clip removes its rows.
CREATE TABLE "sentence_clips" (
    "message_id" UUID NOT NULL,
    "idx" INTEGER NOT NULL,
    "clip_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "conversation_id" UUID NOT NULL,
    "chars" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "sentence_clips_pkey" PRIMARY KEY ("message_id", "idx"),
    CONSTRAINT "sentence_clips_nonnegative" CHECK ("idx" >= 0 AND "chars" >= 0),
    CONSTRAINT "sentence_clips_clip_id_fkey" FOREIGN KEY ("clip_id") REFERENCES "audio_clips"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "sentence_clips_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "sentence_clips_conversation_id_fkey" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "sentence_clips_clip_id_user_id_idx" ON "sentence_clips"("clip_id", "user_id");
CREATE INDEX "sentence_clips_user_id_idx" ON "sentence_clips"("user_id");
CREATE INDEX "sentence_clips_conversation_id_idx" ON "sentence_clips"("conversation_id");
CREATE INDEX "sentence_clips_created_at_idx" ON "sentence_clips"("created_at");
