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
  v_d_tokens bigint;
  v_d_global_tokens bigint;
  v_d_cost_month bigint;
  v_d_spend bigint;
  v_d_global_cost bigint;
  v_d_messages bigint;
  v_d_ip_messages bigint;
  v_parent uuid;
BEGIN
  -- Idempotent: only the call that flips the status settles.
  UPDATE reservations SET status = 'settled', settled_at = now()
   WHERE id = p_reservation_id AND status = 'held'
  RETURNING * INTO r;
  IF NOT FOUND THEN RETURN; END IF;
  v_subject := 'u:' || r.user_id::text;

  -- The credits: the rules are cm_credit_add's and cm_credit_take's (the balance and its ledger row).
  IF r.credit_tokens > 0 THEN
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

  -- The counters, in one statement: each adjusted by its delta, never below zero (a counter
  -- not there yet starts at GREATEST(0, delta)); a zero delta, or a counter that does not
  -- apply (0 here), is skipped. A deleted account's counters are gone; they are not brought
  -- back. The dollar counters held the worst case (cm_reserve_chat): they keep what the reply
  -- cost. A refunded message gives back the messages it took. (One cm_counter_adjust call
  -- each before, issue 17.)
  v_d_tokens := CASE WHEN r.allowance_tokens > 0 AND NOT r.anonymised THEN v_used - r.allowance_tokens ELSE 0 END;
  v_d_global_tokens := v_used - r.global_tokens;
  v_d_cost_month := CASE WHEN r.allowance_tokens > 0 AND NOT r.anonymised THEN p_cost - r.plan_cost_micro_usd ELSE 0 END;
  v_d_spend := CASE WHEN NOT r.anonymised THEN p_cost - r.cost_micro_usd ELSE 0 END;
  v_d_global_cost := p_cost - r.cost_micro_usd;
  v_d_messages := CASE WHEN p_refund_message AND NOT r.anonymised THEN -1 ELSE 0 END;
  v_d_ip_messages := CASE WHEN p_refund_message AND p_is_guest THEN -1 ELSE 0 END;
  INSERT INTO quota_counters AS q (subject, kind, period_start, used)
  SELECT a.subject, a.kind, a.period, GREATEST(0, a.delta)
    FROM (VALUES (1, v_subject, 'tokens_month', r.month_period_start, v_d_tokens),
                 (2, 'global', 'global_tokens_day', r.day_period_start, v_d_global_tokens),
                 (3, v_subject, 'cost_month', r.month_period_start, v_d_cost_month),
                 (4, v_subject, 'spend_month', r.month_period_start, v_d_spend),
                 (5, 'global', 'global_cost_day', r.day_period_start, v_d_global_cost),
                 (6, 'global', 'global_cost_month', r.global_month_start, CASE WHEN r.global_month_start IS NULL THEN 0 ELSE v_d_global_cost END),
                 (7, v_subject, 'messages_hour', date_trunc('hour', r.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', v_d_messages),
                 (8, v_subject, 'messages_day', r.day_period_start, v_d_messages),
                 (9, 'ip:' || p_ip_hash, 'messages_day', r.day_period_start, v_d_ip_messages)) a(ord, subject, kind, period, delta)
   WHERE a.delta <> 0
   ORDER BY a.ord
  ON CONFLICT (subject, kind, period_start) DO UPDATE
     SET used = GREATEST(0, q.used + CASE EXCLUDED.kind
                                       WHEN 'tokens_month' THEN v_d_tokens
                                       WHEN 'global_tokens_day' THEN v_d_global_tokens
                                       WHEN 'cost_month' THEN v_d_cost_month
                                       WHEN 'spend_month' THEN v_d_spend
                                       WHEN 'global_cost_day' THEN v_d_global_cost
                                       WHEN 'global_cost_month' THEN v_d_global_cost
                                       WHEN 'messages_hour' THEN v_d_messages
                                       WHEN 'messages_day' THEN CASE WHEN EXCLUDED.subject = v_subject THEN v_d_messages ELSE v_d_ip_messages END
                                     END),
         updated_at = now();

  IF r.anonymised THEN
    INSERT INTO usage_events (user_id, is_guest, kind, model, prompt_tokens, completion_tokens, cached_tokens, cost_micro_usd,
                              credit_tokens, latency_ms, status, estimated, request_id, conversation_id, reservation_id, ip_hash, provider)
    VALUES (NULL, p_is_guest, 'chat', p_model, p_prompt, p_completion, p_cached, p_cost,
            v_credit, p_latency_ms, p_status, p_estimated, NULL, NULL, NULL, NULL, p_provider)
    RETURNING id INTO v_event;
    -- Nothing may lead from the event back to the person.
    DELETE FROM reservations WHERE id = p_reservation_id;
    usage_event_id := v_event; credit_tokens := v_credit; anonymised := true;
    RETURN NEXT;
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
    -- (The leaf is read by its own statement, only when needed: inside the INSERT, the
    -- subquery made every custom plan cheaper than the generic one, so the INSERT was planned
    -- again on every call. Issue 17.)
    v_parent := r.user_message_id;
    IF v_parent IS NULL THEN
      SELECT c.active_leaf_id INTO v_parent FROM conversations c WHERE c.id = r.conversation_id;
    END IF;
    INSERT INTO messages (id, conversation_id, user_id, role, content, model, status, finish_reason, usage_event_id, parent_id)
    VALUES (p_assistant_id, r.conversation_id, r.user_id, 'assistant', p_assistant_content, p_model, COALESCE(p_message_status, p_status), p_finish_reason, v_event,
            v_parent);
    UPDATE conversations SET message_count = message_count + 1, updated_at = now(),
           active_leaf_id = CASE WHEN r.regenerate OR r.user_message_id IS NULL OR active_leaf_id IS NOT DISTINCT FROM r.user_message_id
                                 THEN p_assistant_id ELSE active_leaf_id END
     WHERE id = r.conversation_id;
  END IF;
  usage_event_id := v_event; credit_tokens := v_credit; anonymised := false;
  RETURN NEXT;
END;
$function$;
