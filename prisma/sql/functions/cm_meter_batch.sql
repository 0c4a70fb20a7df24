-- cm_meter_batch: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
-- The reserve items carry the model's prices, the plan's dollar cap and fallback, and the
-- environment's dollar caps; their rows name the model chosen, the limit that shortened the
-- reply (or NULL) and the cost held (cm_reserve_chat). Optional fields place the message in the
-- conversation's tree: parent_id, reply_to, exclusive (migration 20261206100000_message_tree).
-- With session_id (a streamed chat whose user was read from the instance's session cache,
-- issue 17), the reservation first checks that the session still opens ('session_gone') and
-- that the user's plan, guest and verified states, block and live subscription are still those
-- the request was checked with ('session_changed': the server reads the session again and
-- retries); without it, only that the account is not deleted.
-- With more than one settlement, their usage events are rolled up into usage_daily once,
-- after the last of them (cm_usage_daily_add_events), not by the usage_events trigger once
-- per settlement: the transaction-local chatmeter.roll_up = 'batch' tells the trigger to
-- leave them meanwhile (issue 17). A lone settlement is left to the trigger.
DROP FUNCTION IF EXISTS public.cm_meter_batch(jsonb, jsonb);
CREATE OR REPLACE FUNCTION public.cm_meter_batch(p_settles jsonb, p_reserves jsonb)
 RETURNS TABLE(o_kind text, o_idx integer, o_outcome text, o_max_tokens bigint, o_funded_by text, o_conversation_id uuid, o_user_message_id uuid, o_credit_balance bigint, o_usage_event_id bigint, o_credit_tokens bigint, o_model text, o_limited_by text, o_cost bigint)
 LANGUAGE plpgsql
AS $function$
DECLARE
  s record;
  q record;
  v record;
  v_events bigint[] := '{}';
  v_refusal text;
  v_batch_roll_up boolean := jsonb_array_length(COALESCE(p_settles, '[]'::jsonb)) > 1;
BEGIN
  PERFORM pg_advisory_xact_lock(72707370);
  IF v_batch_roll_up THEN PERFORM set_config('chatmeter.roll_up', 'batch', true); END IF;

  FOR s IN SELECT * FROM jsonb_to_recordset(COALESCE(p_settles, '[]'::jsonb)) AS x(
      idx integer, reservation_id uuid, is_guest boolean, ip_hash text, model text, prompt integer, completion integer,
      cached integer, cost bigint, status text, estimated boolean, latency_ms integer, refund_message boolean,
      assistant_id uuid, assistant_content text, provider text, finish_reason text, message_status text)
  LOOP
    SELECT * INTO v FROM cm_settle_chat(s.reservation_id, s.is_guest, s.ip_hash, s.model, s.prompt, s.completion, s.cached, s.cost,
                                        s.status, s.estimated, s.latency_ms, s.refund_message, s.assistant_id, s.assistant_content, s.provider,
                                        s.finish_reason, s.message_status);
    IF FOUND THEN
      IF v_batch_roll_up THEN v_events := v_events || v.usage_event_id; END IF;
      -- The row through the OUT columns (RETURN QUERY ran a query for it; issue 17).
      o_kind := 'settle'; o_idx := s.idx; o_outcome := CASE WHEN v.anonymised THEN 'anonymised' ELSE 'ok' END;
      o_max_tokens := NULL; o_funded_by := NULL; o_conversation_id := NULL; o_user_message_id := NULL; o_credit_balance := NULL;
      o_usage_event_id := v.usage_event_id; o_credit_tokens := v.credit_tokens; o_model := NULL; o_limited_by := NULL; o_cost := NULL;
      RETURN NEXT;
    ELSE
      -- Idempotent: settled before (a retry after a lost connection, or the sweeper).
      RETURN QUERY SELECT 'settle'::text, s.idx, 'already_settled'::text, NULL::bigint, NULL::text, NULL::uuid, NULL::uuid, NULL::bigint,
                          NULL::bigint, NULL::bigint, NULL::text, NULL::text, NULL::bigint;
    END IF;
  END LOOP;
  IF v_batch_roll_up THEN
    PERFORM set_config('chatmeter.roll_up', '', true);
    IF cardinality(v_events) > 0 THEN
      -- One primary-key lookup per event: `id = ANY(v_events)` was planned as a scan of the
      -- whole table while it was small (a fresh database, the benchmark's).
      PERFORM cm_usage_daily_add_events(ARRAY(SELECT (SELECT e FROM usage_events e WHERE e.id = i) FROM unnest(v_events) i));
    END IF;
  END IF;

  FOR q IN SELECT * FROM jsonb_to_recordset(COALESCE(p_reserves, '[]'::jsonb)) AS x(
      idx integer, reservation_id uuid, user_id uuid, is_guest boolean, ip_hash text,
      at_now timestamptz, at_hour timestamptz, at_day timestamptz, at_month timestamptz, expires_at timestamptz,
      messages_hour_limit bigint, messages_day_limit bigint, ip_day_limit bigint, tokens_month_limit bigint,
      prompt bigint, max_tokens bigint, min_completion bigint, default_cap bigint,
      model text, request_id text, conversation_id uuid, title text, content text, max_messages integer,
      in_price bigint, out_price bigint, cost_month_limit bigint, default_cost_day_cap bigint, default_cost_month_cap bigint,
      at_global_month timestamptz, fallback_model text, fallback_in_price bigint, fallback_out_price bigint, fallback_max_tokens bigint,
      parent_id uuid, reply_to uuid, exclusive boolean,
      session_id text, expect_plan text, expect_verified boolean, expect_subscribed boolean, live_statuses text[])
  LOOP
    IF q.session_id IS NULL THEN
      v_refusal := CASE WHEN EXISTS (SELECT 1 FROM users u WHERE u.id = q.user_id AND u.deleted_at IS NOT NULL) THEN 'account_deleted' END;
    ELSE
      -- The request's user came from this instance's session cache (auth/session.ts): the
      -- session must still open, and the user must still be as the checks before this saw them.
      SELECT CASE
               WHEN u.deleted_at IS NOT NULL THEN 'account_deleted'
               WHEN se.id IS NULL OR se.expires_at <= q.at_now THEN 'session_gone'
               WHEN u.plan_id IS DISTINCT FROM q.expect_plan OR u.is_guest IS DISTINCT FROM q.is_guest OR u.blocked_at IS NOT NULL
                 OR (u.email_verified_at IS NOT NULL) IS DISTINCT FROM q.expect_verified
                 OR EXISTS (SELECT 1 FROM subscriptions b WHERE b.user_id = u.id AND b.status = ANY(q.live_statuses)) IS DISTINCT FROM q.expect_subscribed
                 THEN 'session_changed'
             END
        INTO v_refusal
        FROM users u LEFT JOIN sessions se ON se.id = q.session_id AND se.user_id = u.id
       WHERE u.id = q.user_id;
      IF NOT FOUND THEN v_refusal := 'session_gone'; END IF;
    END IF;
    IF v_refusal IS NOT NULL THEN
      RETURN QUERY SELECT 'reserve'::text, q.idx, v_refusal, NULL::bigint, NULL::text, NULL::uuid, NULL::uuid,
                          NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::text, NULL::bigint;
      CONTINUE;
    END IF;
    SELECT * INTO v FROM cm_reserve_chat(q.reservation_id, q.user_id, q.is_guest, q.ip_hash,
                                         q.at_now, q.at_hour, q.at_day, q.at_month, q.expires_at,
                                         q.messages_hour_limit, q.messages_day_limit, q.ip_day_limit, q.tokens_month_limit,
                                         q.prompt, q.max_tokens, q.min_completion, q.default_cap,
                                         q.model, q.request_id, q.conversation_id, q.title, q.content, q.max_messages,
                                         q.in_price, q.out_price, q.cost_month_limit, q.default_cost_day_cap, q.default_cost_month_cap,
                                         q.at_global_month, q.fallback_model, q.fallback_in_price, q.fallback_out_price, q.fallback_max_tokens,
                                         q.parent_id, q.reply_to, COALESCE(q.exclusive, false));
    RETURN QUERY SELECT 'reserve'::text, q.idx, v.outcome, v.max_tokens, v.funded_by, v.conversation_id, v.user_message_id,
                        v.credit_balance, NULL::bigint, NULL::bigint, v.model, v.limited_by, v.cost_micro_usd;
  END LOOP;
END;
$function$;
