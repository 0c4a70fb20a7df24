-- Reservations remember their prompt estimate, so a reservation whose server
-- died mid-stream can be settled "as estimated" by the sweeper
-- (server/src/metering/sweeper.ts): the prompt estimate plus the full completion
-- cap it held, marked estimated, status 'expired'.
ALTER TABLE "reservations" ADD COLUMN "prompt_tokens" BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION cm_reserve_chat(
  p_reservation_id uuid, p_user_id uuid, p_is_guest boolean, p_ip_hash text,
  p_now timestamptz, p_hour timestamptz, p_day timestamptz, p_month timestamptz, p_expires_at timestamptz,
  p_messages_hour_limit bigint, p_messages_day_limit bigint, p_ip_day_limit bigint, p_tokens_month_limit bigint,
  p_prompt bigint, p_max_tokens bigint, p_min_completion bigint, p_default_cap bigint,
  p_model text, p_request_id text, p_conversation_id uuid, p_title text, p_content text, p_max_messages integer
) RETURNS TABLE (outcome text, max_tokens bigint, funded_by text, conversation_id uuid, user_message_id uuid, credit_balance bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_subject text := 'u:' || p_user_id::text;
  v_kill boolean;
  v_cap bigint;
  v_used bigint;
  v_remaining bigint;
  v_max bigint := p_max_tokens;
  v_amount bigint;
  v_allowance bigint := 0;
  v_credit bigint := 0;
  v_funded text := 'none';
  v_balance bigint := 0;
  v_conversation uuid := p_conversation_id;
  v_message uuid := gen_random_uuid();
  v_count integer;
  v_reason text;
BEGIN
  BEGIN
    SELECT s.kill_switch, s.max_tokens_per_day INTO v_kill, v_cap FROM app_settings s WHERE s.id = 1;
    IF v_kill THEN RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = 'kill_switch'; END IF;

    IF cm_counter_try(v_subject, 'messages_hour', p_hour, 1, p_messages_hour_limit) IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = 'messages_hour';
    END IF;
    IF cm_counter_try(v_subject, 'messages_day', p_day, 1, p_messages_day_limit) IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = 'messages_day';
    END IF;
    IF p_is_guest AND cm_counter_try('ip:' || p_ip_hash, 'messages_day', p_day, 1, p_ip_day_limit) IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = 'ip_day';
    END IF;

    -- Tokens: the monthly allowance first (the completion cap lowered to what it covers), then credits.
    SELECT COALESCE((SELECT q.used FROM quota_counters q WHERE q.subject = v_subject AND q.kind = 'tokens_month' AND q.period_start = p_month), 0) INTO v_used;
    v_remaining := p_tokens_month_limit - v_used;
    IF v_remaining >= p_prompt + p_min_completion THEN
      v_max := LEAST(p_max_tokens, v_remaining - p_prompt);
      v_amount := p_prompt + v_max;
      IF cm_counter_try(v_subject, 'tokens_month', p_month, v_amount, p_tokens_month_limit) IS NOT NULL THEN
        v_funded := 'allowance';
        v_allowance := v_amount;
      END IF;
    END IF;
    IF v_funded = 'none' AND NOT p_is_guest THEN
      SELECT COALESCE((SELECT c.balance_tokens FROM credit_accounts c WHERE c.user_id = p_user_id), 0) INTO v_balance;
      IF v_balance >= p_prompt + p_min_completion THEN
        v_max := LEAST(p_max_tokens, v_balance - p_prompt);
        v_amount := p_prompt + v_max;
        UPDATE credit_accounts c SET balance_tokens = c.balance_tokens - v_amount, updated_at = now()
         WHERE c.user_id = p_user_id AND c.balance_tokens >= v_amount
        RETURNING c.balance_tokens INTO v_balance;
        IF FOUND THEN
          INSERT INTO credit_ledger (user_id, delta_tokens, balance_after, kind, reason, reservation_id)
          VALUES (p_user_id, -v_amount, v_balance, 'spend', 'chat reservation', p_reservation_id);
          v_funded := 'credits';
          v_credit := v_amount;
        END IF;
      END IF;
      IF v_funded = 'none' AND v_balance > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = 'credits';
      END IF;
    END IF;
    IF v_funded = 'none' THEN
      RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = 'tokens';
    END IF;

    IF cm_counter_try('global', 'global_tokens_day', p_day, p_prompt + v_max, COALESCE(v_cap, p_default_cap)) IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = 'global_cap';
    END IF;

    IF v_conversation IS NOT NULL THEN
      UPDATE conversations c SET message_count = c.message_count + 1, updated_at = p_now
       WHERE c.id = v_conversation AND c.user_id = p_user_id AND c.deleted_at IS NULL AND c.message_count <= p_max_messages - 2;
      GET DIAGNOSTICS v_count = ROW_COUNT;
      IF v_count <> 1 THEN
        IF EXISTS (SELECT 1 FROM conversations c WHERE c.id = v_conversation AND c.user_id = p_user_id AND c.deleted_at IS NULL) THEN
          RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = 'conversation_too_long';
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = 'not_found';
      END IF;
    ELSE
      v_conversation := gen_random_uuid();
      INSERT INTO conversations (id, user_id, title, model, message_count, created_at, updated_at)
      VALUES (v_conversation, p_user_id, p_title, p_model, 1, p_now, p_now);
    END IF;
    INSERT INTO messages (id, conversation_id, user_id, role, content, created_at)
    VALUES (v_message, v_conversation, p_user_id, 'user', p_content, p_now);
    INSERT INTO reservations (id, user_id, kind, model, allowance_tokens, credit_tokens, global_tokens, prompt_tokens,
                              month_period_start, day_period_start, request_id, conversation_id, expires_at, created_at)
    VALUES (p_reservation_id, p_user_id, 'chat', p_model, v_allowance, v_credit, p_prompt + v_max, p_prompt,
            p_month, p_day, p_request_id, v_conversation, p_expires_at, p_now);
  EXCEPTION WHEN SQLSTATE 'P0001' THEN
    GET STACKED DIAGNOSTICS v_reason = PG_EXCEPTION_DETAIL;
    RETURN QUERY SELECT v_reason, 0::bigint, 'none'::text, NULL::uuid, NULL::uuid, v_balance;
    RETURN;
  END;
  RETURN QUERY SELECT 'ok'::text, v_max, v_funded, v_conversation, v_message, v_balance;
END;
$$;

