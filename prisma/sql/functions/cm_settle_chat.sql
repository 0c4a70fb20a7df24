-- cm_settle_chat: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
-- The stored reply is written once, with how it ended (p_finish_reason) and, where it differs
-- from the usage's status, its own (p_message_status: the sweeper meters 'expired' and stores
-- 'interrupted'); they were set by a second UPDATE of the just inserted row before (issue 17).
DROP FUNCTION IF EXISTS public.cm_settle_chat(uuid, boolean, text, text, integer, integer, integer, bigint, text, boolean, integer, boolean, uuid, text, text);
CREATE OR REPLACE FUNCTION public.cm_settle_chat(p_reservation_id uuid, p_is_guest boolean, p_ip_hash text, p_model text, p_prompt integer, p_completion integer, p_cached integer, p_cost bigint, p_status text, p_estimated boolean, p_latency_ms integer, p_refund_message boolean, p_assistant_id uuid, p_assistant_content text, p_provider text DEFAULT NULL::text, p_finish_reason text DEFAULT NULL::text, p_message_status text DEFAULT NULL::text)
 RETURNS TABLE(usage_event_id bigint, credit_tokens bigint, anonymised boolean)
 LANGUAGE plpgsql
AS $function$
DECLARE
  r reservations%ROWTYPE;
  v_used bigint := p_prompt::bigint + p_completion::bigint;
  v_subject text;
  v_credit bigint := 0;
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
    -- The credit rules are cm_credit_add's and cm_credit_take's (the balance and its ledger row).
    IF v_used < r.credit_tokens THEN
      PERFORM cm_credit_add(r.user_id, r.credit_tokens - v_used, 'spend_release', 'chat settlement', NULL, NULL, p_reservation_id);
      v_credit := v_used;
    ELSE
      -- An overrun is charged as far as the credits go, never below zero.
      SELECT t.taken INTO v_taken
        FROM cm_credit_take(r.user_id, v_used - r.credit_tokens, 'spend', 'chat settlement', NULL, NULL, p_reservation_id, false) t;
      v_credit := r.credit_tokens + COALESCE(v_taken, 0);
    END IF;
  END IF;
  PERFORM cm_counter_adjust('global', 'global_tokens_day', r.day_period_start, v_used - r.global_tokens);
  -- The dollar counters held the worst case (cm_reserve_chat): they keep what the reply cost.
  IF NOT r.anonymised THEN
    IF r.allowance_tokens > 0 THEN
      PERFORM cm_counter_adjust(v_subject, 'cost_month', r.month_period_start, p_cost - r.plan_cost_micro_usd);
    END IF;
    PERFORM cm_counter_adjust(v_subject, 'spend_month', r.month_period_start, p_cost - r.cost_micro_usd);
  END IF;
  PERFORM cm_counter_adjust('global', 'global_cost_day', r.day_period_start, p_cost - r.cost_micro_usd);
  IF r.global_month_start IS NOT NULL THEN
    PERFORM cm_counter_adjust('global', 'global_cost_month', r.global_month_start, p_cost - r.cost_micro_usd);
  END IF;
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
    -- The reply goes under the user message it answers (a reservation made before the message tree
    -- names none: under the conversation's leaf). It becomes the leaf when the leaf is still that
    -- message, or when it regenerates; a message sent meanwhile keeps the leaf.
    INSERT INTO messages (id, conversation_id, user_id, role, content, model, status, finish_reason, usage_event_id, parent_id)
    VALUES (p_assistant_id, r.conversation_id, r.user_id, 'assistant', p_assistant_content, p_model, COALESCE(p_message_status, p_status), p_finish_reason, v_event,
            COALESCE(r.user_message_id, (SELECT c.active_leaf_id FROM conversations c WHERE c.id = r.conversation_id)));
    UPDATE conversations SET message_count = message_count + 1, updated_at = now(),
           active_leaf_id = CASE WHEN r.regenerate OR r.user_message_id IS NULL OR active_leaf_id IS NOT DISTINCT FROM r.user_message_id
                                 THEN p_assistant_id ELSE active_leaf_id END
     WHERE id = r.conversation_id;
  END IF;
  RETURN QUERY SELECT v_event, v_credit, false;
END;
$function$;
