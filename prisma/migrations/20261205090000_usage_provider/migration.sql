-- Several providers at once (PROVIDERS_FILE, docs/providers.md): each usage event
-- records the provider that served it (its id from the file, "openai" for the
-- OPENAI_API_KEY shorthand, "demo" for the demo model; NULL for events written
-- before this migration and for voice), and the daily roll-up is keyed by it too
-- ('' when there is none), so cost per model and provider is read from the roll-up.

ALTER TABLE "usage_events" ADD COLUMN "provider" TEXT;

ALTER TABLE "usage_daily" ADD COLUMN "provider" TEXT NOT NULL DEFAULT '';
ALTER TABLE "usage_daily" DROP CONSTRAINT "usage_daily_pkey";
ALTER TABLE "usage_daily" ADD CONSTRAINT "usage_daily_pkey" PRIMARY KEY ("day", "user_id", "is_guest", "model", "provider", "kind", "status");

-- As in migration 20261123050000, with provider in the key.
CREATE OR REPLACE FUNCTION "cm_roll_up_usage"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_daily AS d (day, user_id, is_guest, model, provider, kind, status, requests, prompt_tokens, completion_tokens,
                                cached_tokens, cost_micro_usd, credit_tokens, tts_chars, estimated_requests, latency_ms)
  SELECT (n.created_at AT TIME ZONE 'UTC')::date, COALESCE(n.user_id, '00000000-0000-0000-0000-000000000000'::uuid), n.is_guest,
         COALESCE(n.model, ''), COALESCE(n.provider, ''), n.kind, n.status,
         count(*), sum(n.prompt_tokens), sum(n.completion_tokens), sum(n.cached_tokens), sum(n.cost_micro_usd),
         sum(n.credit_tokens), sum(n.tts_chars), count(*) FILTER (WHERE n.estimated), COALESCE(sum(n.latency_ms), 0)
    FROM new_usage_events n
   GROUP BY 1, 2, 3, 4, 5, 6, 7
   ORDER BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (day, user_id, is_guest, model, provider, kind, status) DO UPDATE SET
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


-- As in migration 20261204051000, with the provider written on the usage event
-- (p_provider, last and optional). Dropped and created again: a new argument.
DROP FUNCTION cm_settle_chat(uuid, boolean, text, text, integer, integer, integer, bigint, text, boolean, integer, boolean, uuid, text);

CREATE FUNCTION cm_settle_chat(
  p_reservation_id uuid, p_is_guest boolean, p_ip_hash text, p_model text,
  p_prompt integer, p_completion integer, p_cached integer, p_cost bigint,
  p_status text, p_estimated boolean, p_latency_ms integer, p_refund_message boolean,
  p_assistant_id uuid, p_assistant_content text, p_provider text DEFAULT NULL
) RETURNS TABLE (usage_event_id bigint, credit_tokens bigint, anonymised boolean)
LANGUAGE plpgsql AS $$
DECLARE
  r reservations%ROWTYPE;
  v_used bigint := p_prompt::bigint + p_completion::bigint;
  v_subject text;
  v_credit bigint := 0;
  v_balance bigint;
  v_taken bigint;
  v_event bigint;
BEGIN
  -- Idempotent: only the call that flips the status settles.
  UPDATE reservations SET status = 'settled', settled_at = now()
   WHERE id = p_reservation_id AND status = 'held'
  RETURNING * INTO r;
  IF NOT FOUND THEN RETURN; END IF;
  v_subject := 'u:' || r.user_id::text;

  -- A deleted account's counters are gone; they are not brought back.
  IF r.allowance_tokens > 0 AND NOT r.anonymised THEN
    PERFORM cm_counter_adjust(v_subject, 'tokens_month', r.month_period_start, v_used - r.allowance_tokens);
  END IF;
  IF r.credit_tokens > 0 THEN
    IF v_used < r.credit_tokens THEN
      INSERT INTO credit_accounts (user_id, balance_tokens) VALUES (r.user_id, r.credit_tokens - v_used)
      ON CONFLICT (user_id) DO UPDATE SET balance_tokens = credit_accounts.balance_tokens + EXCLUDED.balance_tokens, updated_at = now()
      RETURNING balance_tokens INTO v_balance;
      INSERT INTO credit_ledger (user_id, delta_tokens, balance_after, kind, reason, reservation_id)
      VALUES (r.user_id, r.credit_tokens - v_used, v_balance, 'spend_release', 'chat settlement', p_reservation_id);
      v_credit := v_used;
    ELSE
      -- An overrun is charged as far as the credits go, never below zero.
      WITH cur AS (SELECT balance_tokens FROM credit_accounts WHERE user_id = r.user_id FOR UPDATE)
      UPDATE credit_accounts c SET balance_tokens = c.balance_tokens - LEAST(c.balance_tokens, v_used - r.credit_tokens), updated_at = now()
        FROM cur WHERE c.user_id = r.user_id
      RETURNING c.balance_tokens, cur.balance_tokens - c.balance_tokens INTO v_balance, v_taken;
      IF COALESCE(v_taken, 0) > 0 THEN
        INSERT INTO credit_ledger (user_id, delta_tokens, balance_after, kind, reason, reservation_id)
        VALUES (r.user_id, -v_taken, v_balance, 'spend', 'chat settlement', p_reservation_id);
      END IF;
      v_credit := r.credit_tokens + COALESCE(v_taken, 0);
    END IF;
  END IF;
  PERFORM cm_counter_adjust('global', 'global_tokens_day', r.day_period_start, v_used - r.global_tokens);
  IF p_refund_message THEN
    IF NOT r.anonymised THEN
      PERFORM cm_counter_adjust(v_subject, 'messages_hour', date_trunc('hour', r.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', -1);
      PERFORM cm_counter_adjust(v_subject, 'messages_day', r.day_period_start, -1);
    END IF;
    IF p_is_guest THEN
      PERFORM cm_counter_adjust('ip:' || p_ip_hash, 'messages_day', r.day_period_start, -1);
    END IF;
  END IF;

  IF r.anonymised THEN
    INSERT INTO usage_events (user_id, is_guest, kind, model, prompt_tokens, completion_tokens, cached_tokens, cost_micro_usd,
                              credit_tokens, latency_ms, status, estimated, request_id, conversation_id, reservation_id, ip_hash, provider)
    VALUES (NULL, p_is_guest, 'chat', p_model, p_prompt, p_completion, p_cached, p_cost,
            v_credit, p_latency_ms, p_status, p_estimated, NULL, NULL, NULL, NULL, p_provider)
    RETURNING id INTO v_event;
    -- Nothing may lead from the event back to the person.
    DELETE FROM reservations WHERE id = p_reservation_id;
    RETURN QUERY SELECT v_event, v_credit, true;
    RETURN;
  END IF;

  INSERT INTO usage_events (user_id, is_guest, kind, model, prompt_tokens, completion_tokens, cached_tokens, cost_micro_usd,
                            credit_tokens, latency_ms, status, estimated, request_id, conversation_id, reservation_id, ip_hash, provider)
  VALUES (r.user_id, p_is_guest, 'chat', p_model, p_prompt, p_completion, p_cached, p_cost,
          v_credit, p_latency_ms, p_status, p_estimated, r.request_id, r.conversation_id, p_reservation_id, p_ip_hash, p_provider)
  RETURNING id INTO v_event;

  IF r.conversation_id IS NOT NULL AND (length(p_assistant_content) > 0 OR p_status = 'ok') THEN
    INSERT INTO messages (id, conversation_id, user_id, role, content, model, status, usage_event_id)
    VALUES (p_assistant_id, r.conversation_id, r.user_id, 'assistant', p_assistant_content, p_model, p_status, v_event);
    UPDATE conversations SET message_count = message_count + 1, updated_at = now() WHERE id = r.conversation_id;
  END IF;
  RETURN QUERY SELECT v_event, v_credit, false;
END;
$$;


-- As in migration 20261204051000, with settle items' `provider` passed on.
CREATE OR REPLACE FUNCTION cm_meter_batch(p_settles jsonb, p_reserves jsonb)
RETURNS TABLE (o_kind text, o_idx integer, o_outcome text, o_max_tokens bigint, o_funded_by text, o_conversation_id uuid,
               o_user_message_id uuid, o_credit_balance bigint, o_usage_event_id bigint, o_credit_tokens bigint)
LANGUAGE plpgsql AS $$
DECLARE
  s record;
  q record;
  v record;
BEGIN
  PERFORM pg_advisory_xact_lock(72707370);

  FOR s IN SELECT * FROM jsonb_to_recordset(COALESCE(p_settles, '[]'::jsonb)) AS x(
      idx integer, reservation_id uuid, is_guest boolean, ip_hash text, model text, prompt integer, completion integer,
      cached integer, cost bigint, status text, estimated boolean, latency_ms integer, refund_message boolean,
      assistant_id uuid, assistant_content text, provider text)
  LOOP
    SELECT * INTO v FROM cm_settle_chat(s.reservation_id, s.is_guest, s.ip_hash, s.model, s.prompt, s.completion, s.cached, s.cost,
                                        s.status, s.estimated, s.latency_ms, s.refund_message, s.assistant_id, s.assistant_content, s.provider);
    IF FOUND THEN
      RETURN QUERY SELECT 'settle'::text, s.idx, CASE WHEN v.anonymised THEN 'anonymised' ELSE 'ok' END::text, NULL::bigint, NULL::text,
                          NULL::uuid, NULL::uuid, NULL::bigint, v.usage_event_id, v.credit_tokens;
    ELSE
      -- Idempotent: settled before (a retry after a lost connection, or the sweeper).
      RETURN QUERY SELECT 'settle'::text, s.idx, 'already_settled'::text, NULL::bigint, NULL::text, NULL::uuid, NULL::uuid, NULL::bigint,
                          NULL::bigint, NULL::bigint;
    END IF;
  END LOOP;

  FOR q IN SELECT * FROM jsonb_to_recordset(COALESCE(p_reserves, '[]'::jsonb)) AS x(
      idx integer, reservation_id uuid, user_id uuid, is_guest boolean, ip_hash text,
      at_now timestamptz, at_hour timestamptz, at_day timestamptz, at_month timestamptz, expires_at timestamptz,
      messages_hour_limit bigint, messages_day_limit bigint, ip_day_limit bigint, tokens_month_limit bigint,
      prompt bigint, max_tokens bigint, min_completion bigint, default_cap bigint,
      model text, request_id text, conversation_id uuid, title text, content text, max_messages integer)
  LOOP
    IF EXISTS (SELECT 1 FROM users u WHERE u.id = q.user_id AND u.deleted_at IS NOT NULL) THEN
      RETURN QUERY SELECT 'reserve'::text, q.idx, 'account_deleted'::text, NULL::bigint, NULL::text, NULL::uuid, NULL::uuid,
                          NULL::bigint, NULL::bigint, NULL::bigint;
      CONTINUE;
    END IF;
    SELECT * INTO v FROM cm_reserve_chat(q.reservation_id, q.user_id, q.is_guest, q.ip_hash,
                                         q.at_now, q.at_hour, q.at_day, q.at_month, q.expires_at,
                                         q.messages_hour_limit, q.messages_day_limit, q.ip_day_limit, q.tokens_month_limit,
                                         q.prompt, q.max_tokens, q.min_completion, q.default_cap,
                                         q.model, q.request_id, q.conversation_id, q.title, q.content, q.max_messages);
    RETURN QUERY SELECT 'reserve'::text, q.idx, v.outcome, v.max_tokens, v.funded_by, v.conversation_id, v.user_message_id,
                        v.credit_balance, NULL::bigint, NULL::bigint;
  END LOOP;
END;
$$;
