-- Insight: daily roll-ups of usage (kept by a trigger, so every writer of
-- usage_events maintains them), refusals per day, the append-only audit log,
-- account deletion (tombstones) and the bookkeeping of maintenance jobs.

-- ---- Daily roll-ups -----------------------------------------------------------

-- One row per UTC day and (user, guest flag, model, kind, status). user_id is
-- never NULL so the primary key can be the upsert target: events without a user
-- (anonymised by an account deletion) roll up under the nil UUID. model is ''
-- for events without one.
CREATE TABLE "usage_daily" (
    "day" DATE NOT NULL,
    "user_id" UUID NOT NULL,
    "is_guest" BOOLEAN NOT NULL,
    "model" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "requests" BIGINT NOT NULL DEFAULT 0,
    "prompt_tokens" BIGINT NOT NULL DEFAULT 0,
    "completion_tokens" BIGINT NOT NULL DEFAULT 0,
    "cached_tokens" BIGINT NOT NULL DEFAULT 0,
    "cost_micro_usd" BIGINT NOT NULL DEFAULT 0,
    "credit_tokens" BIGINT NOT NULL DEFAULT 0,
    "tts_chars" BIGINT NOT NULL DEFAULT 0,
    "estimated_requests" BIGINT NOT NULL DEFAULT 0,
    "latency_ms" BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT "usage_daily_pkey" PRIMARY KEY ("day", "user_id", "is_guest", "model", "kind", "status")
);
CREATE INDEX "usage_daily_user_id_day_idx" ON "usage_daily"("user_id", "day");

-- Statement-level: one grouped upsert per INSERT statement, whether it wrote one
-- event (a chat settlement) or a million (a bulk import). Keys are upserted in
-- a fixed order so concurrent multi-row inserts cannot deadlock on them.
CREATE FUNCTION "cm_roll_up_usage"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_daily AS d (day, user_id, is_guest, model, kind, status, requests, prompt_tokens, completion_tokens,
                                cached_tokens, cost_micro_usd, credit_tokens, tts_chars, estimated_requests, latency_ms)
  SELECT (n.created_at AT TIME ZONE 'UTC')::date, COALESCE(n.user_id, '00000000-0000-0000-0000-000000000000'::uuid), n.is_guest,
         COALESCE(n.model, ''), n.kind, n.status,
         count(*), sum(n.prompt_tokens), sum(n.completion_tokens), sum(n.cached_tokens), sum(n.cost_micro_usd),
         sum(n.credit_tokens), sum(n.tts_chars), count(*) FILTER (WHERE n.estimated), COALESCE(sum(n.latency_ms), 0)
    FROM new_usage_events n
   GROUP BY 1, 2, 3, 4, 5, 6
   ORDER BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (day, user_id, is_guest, model, kind, status) DO UPDATE SET
    requests = d.requests + EXCLUDED.requests,
    prompt_tokens = d.prompt_tokens + EXCLUDED.prompt_tokens,
    completion_tokens = d.completion_tokens + EXCLUDED.completion_tokens,
    cached_tokens = d.cached_tokens + EXCLUDED.cached_tokens,
    cost_micro_usd = d.cost_micro_usd + EXCLUDED.cost_micro_usd,
    credit_tokens = d.credit_tokens + EXCLUDED.credit_tokens,
    tts_chars = d.tts_chars + EXCLUDED.tts_chars,
    estimated_requests = d.estimated_requests + EXCLUDED.estimated_requests,
    latency_ms = d.latency_ms + EXCLUDED.latency_ms;
  RETURN NULL;
END;
$$;

-- Events written before this migration.
INSERT INTO usage_daily (day, user_id, is_guest, model, kind, status, requests, prompt_tokens, completion_tokens,
                         cached_tokens, cost_micro_usd, credit_tokens, tts_chars, estimated_requests, latency_ms)
SELECT (created_at AT TIME ZONE 'UTC')::date, COALESCE(user_id, '00000000-0000-0000-0000-000000000000'::uuid), is_guest,
       COALESCE(model, ''), kind, status,
       count(*), sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens), sum(cost_micro_usd),
       sum(credit_tokens), sum(tts_chars), count(*) FILTER (WHERE estimated), COALESCE(sum(latency_ms), 0)
  FROM usage_events
 GROUP BY 1, 2, 3, 4, 5, 6;

CREATE TRIGGER "usage_events_roll_up" AFTER INSERT ON "usage_events"
    REFERENCING NEW TABLE AS new_usage_events
    FOR EACH STATEMENT EXECUTE FUNCTION "cm_roll_up_usage"();

-- Requests refused on the metered paths (chat.send, tts.speak), per UTC day and reason.
CREATE TABLE "refusals_daily" (
    "day" DATE NOT NULL,
    "reason" TEXT NOT NULL,
    "count" BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT "refusals_daily_pkey" PRIMARY KEY ("day", "reason")
);

-- Upgrade candidates: counters of one kind and period above a threshold.
CREATE INDEX "quota_counters_kind_period_start_used_idx" ON "quota_counters"("kind", "period_start", "used");

-- ---- Audit log ----------------------------------------------------------------

-- Every admin and support action, written in the same transaction as the action.
-- before/after hold ids and values, never e-mail addresses, so an account
-- deletion leaves nothing personal behind in this append-only table.
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "actor_id" UUID,
    "actor_role" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "target_user_id" UUID,
    "before" JSONB,
    "after" JSONB,
    "reason" TEXT,
    "request_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "audit_log_actor_id_id_idx" ON "audit_log"("actor_id", "id");
CREATE INDEX "audit_log_action_id_idx" ON "audit_log"("action", "id");
CREATE INDEX "audit_log_target_user_id_id_idx" ON "audit_log"("target_user_id", "id");

-- Append-only, whoever writes to it (the metering migration's function).
CREATE TRIGGER "audit_log_append_only" BEFORE UPDATE OR DELETE ON "audit_log"
    FOR EACH ROW EXECUTE FUNCTION "refuse_ledger_change"();
CREATE TRIGGER "audit_log_no_truncate" BEFORE TRUNCATE ON "audit_log"
    FOR EACH STATEMENT EXECUTE FUNCTION "refuse_ledger_change"();

-- ---- Accounts -------------------------------------------------------------------

-- A deleted account stays as a tombstone (no e-mail, no password, blocked) so
-- billing rows and the credit ledger keep a valid user id.
ALTER TABLE "users" ADD COLUMN "deleted_at" TIMESTAMPTZ(3);
-- admin.users lists newest first with a keyset cursor.
CREATE INDEX "users_created_at_id_idx" ON "users"("created_at", "id");
-- Message retention (MESSAGE_RETENTION_DAYS) deletes by age.
CREATE INDEX "messages_created_at_idx" ON "messages"("created_at");

-- ---- Maintenance jobs -----------------------------------------------------------

-- One row per job: an instance claims a run by moving started_at forward, so a
-- job scheduled on every instance runs once per interval.
CREATE TABLE "job_runs" (
    "job" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "finished_at" TIMESTAMPTZ(3),
    "result" JSONB,
    CONSTRAINT "job_runs_pkey" PRIMARY KEY ("job")
);
