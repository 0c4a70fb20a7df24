-- Local voice: synthesized clips (a cache shared by everyone who asks for the same
-- text, voice, format and engine version; the audio bytes are files under
-- DATA_DIR/audio) and who may fetch which clip.

-- cache_key: sha256 of (engine@version, voice, format, text). last_used_at drives
-- least-recently-used eviction once the files pass TTS_CACHE_MAX_MB.
CREATE TABLE "audio_clips" (
    "id" UUID NOT NULL,
    "cache_key" TEXT NOT NULL,
    "voice" TEXT NOT NULL,
    "engine" TEXT NOT NULL,
    "format" TEXT NOT NULL,
    "mime" TEXT NOT NULL,
    "bytes" INTEGER NOT NULL,
    "duration_ms" INTEGER NOT NULL,
    "chars" INTEGER NOT NULL,
    "synthesis_ms" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "audio_clips_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "audio_clips_format_check" CHECK ("format" IN ('mp3', 'ogg', 'wav')),
    CONSTRAINT "audio_clips_nonnegative" CHECK ("bytes" >= 0 AND "duration_ms" >= 0 AND "chars" >= 0 AND "synthesis_ms" >= 0)
);
CREATE UNIQUE INDEX "audio_clips_cache_key_key" ON "audio_clips"("cache_key");
CREATE INDEX "audio_clips_last_used_at_idx" ON "audio_clips"("last_used_at");

-- GET /audio/:id serves a clip only to a user with a row here: the owner of a
-- message who had it spoken. Evicting a clip removes its rows; deleting a user
-- or a conversation's messages does too.
CREATE TABLE "spoken_messages" (
    "message_id" UUID NOT NULL,
    "clip_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "spoken_messages_pkey" PRIMARY KEY ("message_id", "clip_id"),
    CONSTRAINT "spoken_messages_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "spoken_messages_clip_id_fkey" FOREIGN KEY ("clip_id") REFERENCES "audio_clips"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "spoken_messages_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "spoken_messages_clip_id_user_id_idx" ON "spoken_messages"("clip_id", "user_id");
CREATE INDEX "spoken_messages_user_id_idx" ON "spoken_messages"("user_id");
