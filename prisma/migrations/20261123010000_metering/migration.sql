-- Metered chat: conversations, messages, quota counters, credits ledger,
-- reservations, usage events, global settings.

CREATE TABLE "conversations" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "title" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "message_count" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at" TIMESTAMPTZ(3),
    CONSTRAINT "conversations_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "conversations_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "conversations_user_id_updated_at_idx" ON "conversations"("user_id", "updated_at");

CREATE TABLE "messages" (
    "id" UUID NOT NULL,
    "conversation_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "role" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "model" TEXT,
    "status" TEXT NOT NULL DEFAULT 'ok',
    "usage_event_id" BIGINT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "messages_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "messages_conversation_id_fkey" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "messages_role_check" CHECK ("role" IN ('user', 'assistant', 'system'))
);
CREATE INDEX "messages_conversation_id_created_at_idx" ON "messages"("conversation_id", "created_at");

CREATE TABLE "quota_counters" (
    "subject" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "period_start" TIMESTAMPTZ(3) NOT NULL,
    "used" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "quota_counters_pkey" PRIMARY KEY ("subject", "kind", "period_start"),
    CONSTRAINT "quota_counters_used_nonnegative" CHECK ("used" >= 0)
);

CREATE TABLE "credit_accounts" (
    "user_id" UUID NOT NULL,
    "balance_tokens" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "credit_accounts_pkey" PRIMARY KEY ("user_id"),
    CONSTRAINT "credit_accounts_balance_nonnegative" CHECK ("balance_tokens" >= 0),
    CONSTRAINT "credit_accounts_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE "credit_ledger" (
    "id" BIGSERIAL NOT NULL,
    "user_id" UUID NOT NULL,
    "delta_tokens" BIGINT NOT NULL,
    "balance_after" BIGINT NOT NULL,
    "kind" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "actor_id" UUID,
    "source_event_id" TEXT,
    "reservation_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "credit_ledger_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "credit_ledger_balance_after_nonnegative" CHECK ("balance_after" >= 0)
);
CREATE INDEX "credit_ledger_user_id_created_at_idx" ON "credit_ledger"("user_id", "created_at");

-- The ledger is append-only, whoever writes to it.
CREATE FUNCTION "refuse_ledger_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER "credit_ledger_append_only" BEFORE UPDATE OR DELETE ON "credit_ledger"
    FOR EACH ROW EXECUTE FUNCTION "refuse_ledger_change"();

CREATE TABLE "reservations" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "model" TEXT,
    "status" TEXT NOT NULL DEFAULT 'held',
    "allowance_tokens" BIGINT NOT NULL DEFAULT 0,
    "credit_tokens" BIGINT NOT NULL DEFAULT 0,
    "global_tokens" BIGINT NOT NULL DEFAULT 0,
    "tts_chars" INTEGER NOT NULL DEFAULT 0,
    "month_period_start" TIMESTAMPTZ(3) NOT NULL,
    "day_period_start" TIMESTAMPTZ(3) NOT NULL,
    "request_id" TEXT,
    "conversation_id" UUID,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "settled_at" TIMESTAMPTZ(3),
    CONSTRAINT "reservations_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "reservations_status_check" CHECK ("status" IN ('held', 'settled', 'released'))
);
CREATE INDEX "reservations_status_expires_at_idx" ON "reservations"("status", "expires_at");

CREATE TABLE "usage_events" (
    "id" BIGSERIAL NOT NULL,
    "user_id" UUID,
    "is_guest" BOOLEAN NOT NULL DEFAULT false,
    "kind" TEXT NOT NULL,
    "model" TEXT,
    "prompt_tokens" INTEGER NOT NULL DEFAULT 0,
    "completion_tokens" INTEGER NOT NULL DEFAULT 0,
    "cached_tokens" INTEGER NOT NULL DEFAULT 0,
    "cost_micro_usd" BIGINT NOT NULL DEFAULT 0,
    "credit_tokens" BIGINT NOT NULL DEFAULT 0,
    "tts_chars" INTEGER NOT NULL DEFAULT 0,
    "synthesis_ms" INTEGER,
    "latency_ms" INTEGER,
    "status" TEXT NOT NULL,
    "estimated" BOOLEAN NOT NULL DEFAULT false,
    "request_id" TEXT,
    "conversation_id" UUID,
    "reservation_id" UUID,
    "ip_hash" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "usage_events_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "usage_events_nonnegative" CHECK ("prompt_tokens" >= 0 AND "completion_tokens" >= 0 AND "cost_micro_usd" >= 0 AND "tts_chars" >= 0)
);
CREATE UNIQUE INDEX "usage_events_reservation_id_key" ON "usage_events"("reservation_id");
CREATE INDEX "usage_events_user_id_created_at_idx" ON "usage_events"("user_id", "created_at");
CREATE INDEX "usage_events_created_at_idx" ON "usage_events"("created_at");

CREATE TABLE "app_settings" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "kill_switch" BOOLEAN NOT NULL DEFAULT false,
    "max_tokens_per_day" BIGINT,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_by" UUID,
    CONSTRAINT "app_settings_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "app_settings_single_row" CHECK ("id" = 1)
);
INSERT INTO "app_settings" ("id") VALUES (1);

CREATE TABLE "captcha_uses" (
    "signature" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "captcha_uses_pkey" PRIMARY KEY ("signature")
);
CREATE INDEX "captcha_uses_created_at_idx" ON "captcha_uses"("created_at");
