-- cm_reserve_chat: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
-- Reserves a chat in one transaction: the messages, then the worst case of the reply in tokens
-- and in micro-USD (cm_chat_cost) on every limit that applies, each taken by a conditional
-- update, so no number of concurrent requests can pass a limit. Where what is left cannot
-- cover the requested completion cap but covers p_min_completion, the cap is lowered to what
-- fits and limited_by names the limit that lowered it; below that floor the plan's fallback
-- model (cheaper) is tried the same way; only then is the request refused, with the limit
-- (docs/architecture.md, "The wallet").
--   Dollars: cost_month (the plan's allowance; credits are bought and not capped by the plan),
--   spend_month (all of the user's spend: the personal limit), global_cost_day / _month.
-- The conversation is a tree (migration 20261206100000_message_tree): the user message goes
-- under p_parent_id (NULL: a first message) and becomes the active leaf; a regeneration
-- (p_reply_to, an existing user message of the conversation) writes no user message and leaves
-- the leaf to the settlement. p_exclusive (edit, regenerate) refuses while a reply of the
-- conversation is held (streaming): batches run one at a time, so the check is exact.
DROP FUNCTION IF EXISTS public.cm_reserve_chat(uuid, uuid, boolean, text, timestamp with time zone, timestamp with time zone, timestamp with time zone, timestamp with time zone, timestamp with time zone, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, text, text, uuid, text, text, integer);
DROP FUNCTION IF EXISTS public.cm_reserve_chat(uuid, uuid, boolean, text, timestamp with time zone, timestamp with time zone, timestamp with time zone, timestamp with time zone, timestamp with time zone, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, text, text, uuid, text, text, integer, bigint, bigint, bigint, bigint, bigint, timestamp with time zone, text, bigint, bigint, bigint);
CREATE OR REPLACE FUNCTION public.cm_reserve_chat(p_reservation_id uuid, p_user_id uuid, p_is_guest boolean, p_ip_hash text, p_now timestamp with time zone, p_hour timestamp with time zone, p_day timestamp with time zone, p_month timestamp with time zone, p_expires_at timestamp with time zone, p_messages_hour_limit bigint, p_messages_day_limit bigint, p_ip_day_limit bigint, p_tokens_month_limit bigint, p_prompt bigint, p_max_tokens bigint, p_min_completion bigint, p_default_cap bigint, p_model text, p_request_id text, p_conversation_id uuid, p_title text, p_content text, p_max_messages integer, p_in_price bigint, p_out_price bigint, p_cost_month_limit bigint, p_default_cost_day_cap bigint, p_default_cost_month_cap bigint, p_global_month timestamp with time zone, p_fallback_model text, p_fallback_in_price bigint, p_fallback_out_price bigint, p_fallback_max_tokens bigint, p_parent_id uuid DEFAULT NULL::uuid, p_reply_to uuid DEFAULT NULL::uuid, p_exclusive boolean DEFAULT false)
 RETURNS TABLE(outcome text, max_tokens bigint, funded_by text, conversation_id uuid, user_message_id uuid, credit_balance bigint, model text, limited_by text, cost_micro_usd bigint)
 LANGUAGE plpgsql
AS $function$
DECLARE
  c_none constant bigint := 9223372036854775807;
  v_subject text := 'u:' || p_user_id::text;
  v_kill boolean;
  v_token_cap bigint;
  v_cost_day_cap bigint;
  v_cost_month_cap bigint;
  v_personal bigint;
  v_tokens_used bigint;
  v_cost_used bigint;
  v_spend_used bigint;
  v_gtokens_used bigint;
  v_gcost_day_used bigint;
  v_gcost_month_used bigint;
  v_balance bigint := 0;
  v_try integer;
  v_model text;
  v_in bigint;
  v_out bigint;
  v_cap bigint;
  v_min bigint;
  v_max bigint;
  v_fit bigint;
  v_limited text;
  v_amax bigint;
  v_alimited text;
  v_funded text;
  v_refused text;
  v_first_refusal text;
  v_first_max bigint;
  v_first_limited text;
  v_first_funded text;
  v_cost bigint := 0;
  v_allowance bigint := 0;
  v_credit bigint := 0;
  v_taken bigint;
  v_conversation uuid := p_conversation_id;
  v_message uuid := gen_random_uuid();
  v_count integer;
  v_reason text;
  v_took text[];
  v_lim_cost_month bigint;
  v_lim_personal bigint;
  v_lim_cost_day bigint;
  v_lim_cost_gmonth bigint;
  -- Messages this reservation adds before the reply: none when it answers an existing one.
  v_added integer := CASE WHEN p_reply_to IS NULL THEN 1 ELSE 0 END;
BEGIN
  BEGIN
    SELECT s.kill_switch, s.max_tokens_per_day, s.max_cost_per_day_micro_usd, s.max_cost_per_month_micro_usd
      INTO v_kill, v_token_cap, v_cost_day_cap, v_cost_month_cap FROM app_settings s WHERE s.id = 1;
    IF v_kill THEN RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = 'kill_switch'; END IF;
    v_token_cap := COALESCE(v_token_cap, p_default_cap);
    v_cost_day_cap := COALESCE(v_cost_day_cap, p_default_cost_day_cap);
    v_cost_month_cap := COALESCE(v_cost_month_cap, p_default_cost_month_cap);

    -- The messages, in one statement: each counter taken only if it stays within its limit
    -- (cm_counter_try's rule, row by row); a counter not taken refuses with the first such
    -- limit in this order, and the refusal rolls back the others (the EXCEPTION block below).
    WITH taken AS (
      INSERT INTO quota_counters AS q (subject, kind, period_start, used)
      SELECT t.subject, t.kind, t.period, 1
        FROM (VALUES (1, v_subject, 'messages_hour', p_hour, p_messages_hour_limit),
                     (2, v_subject, 'messages_day', p_day, p_messages_day_limit),
                     (3, 'ip:' || p_ip_hash, 'messages_day', p_day, p_ip_day_limit)) t(ord, subject, kind, period, lim)
       WHERE (t.ord < 3 OR p_is_guest) AND 1 <= t.lim
       ORDER BY t.ord
      ON CONFLICT (subject, kind, period_start) DO UPDATE
         SET used = q.used + EXCLUDED.used, updated_at = now()
       WHERE q.used + EXCLUDED.used <= CASE WHEN q.kind = 'messages_hour' THEN p_messages_hour_limit
                                            WHEN q.subject = v_subject THEN p_messages_day_limit ELSE p_ip_day_limit END
      RETURNING CASE WHEN q.kind = 'messages_hour' THEN 'messages_hour' WHEN q.subject = v_subject THEN 'messages_day' ELSE 'ip_day' END AS reason)
    SELECT COALESCE(array_agg(taken.reason), '{}') INTO v_took FROM taken;
    IF cardinality(v_took) < (CASE WHEN p_is_guest THEN 3 ELSE 2 END) THEN
      RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused',
        DETAIL = CASE WHEN NOT 'messages_hour' = ANY(v_took) THEN 'messages_hour' WHEN NOT 'messages_day' = ANY(v_took) THEN 'messages_day' ELSE 'ip_day' END;
    END IF;

    -- What is left under each limit (read once; the conditional updates below are what guarantee them).
    IF NOT p_is_guest THEN
      SELECT p.monthly_spend_limit_micro_usd INTO v_personal FROM user_preferences p WHERE p.user_id = p_user_id;
      SELECT c.balance_tokens INTO v_balance FROM credit_accounts c WHERE c.user_id = p_user_id;
      v_balance := COALESCE(v_balance, 0);
    END IF;
    SELECT COALESCE(sum(q.used) FILTER (WHERE q.kind = 'tokens_month'), 0), COALESCE(sum(q.used) FILTER (WHERE q.kind = 'cost_month'), 0),
           COALESCE(sum(q.used) FILTER (WHERE q.kind = 'spend_month'), 0)
      INTO v_tokens_used, v_cost_used, v_spend_used
      FROM quota_counters q WHERE q.subject = v_subject AND q.kind IN ('tokens_month', 'cost_month', 'spend_month') AND q.period_start = p_month;
    SELECT COALESCE(sum(q.used) FILTER (WHERE q.kind = 'global_tokens_day' AND q.period_start = p_day), 0),
           COALESCE(sum(q.used) FILTER (WHERE q.kind = 'global_cost_day' AND q.period_start = p_day), 0),
           COALESCE(sum(q.used) FILTER (WHERE q.kind = 'global_cost_month' AND q.period_start = p_global_month), 0)
      INTO v_gtokens_used, v_gcost_day_used, v_gcost_month_used
      FROM quota_counters q WHERE q.subject = 'global' AND q.kind IN ('global_tokens_day', 'global_cost_day', 'global_cost_month')
       AND q.period_start IN (p_day, p_global_month);

    -- The model asked for, then the plan's fallback: a whole reply from either beats a shortened
    -- one, and the model asked for wins a tie.
    FOR v_try IN 1..2 LOOP
      IF v_try = 1 THEN
        v_in := p_in_price; v_out := p_out_price; v_cap := p_max_tokens;
      ELSE
        EXIT WHEN p_fallback_model IS NULL OR p_fallback_model = p_model;
        v_in := p_fallback_in_price; v_out := p_fallback_out_price; v_cap := p_fallback_max_tokens;
      END IF;
      v_min := LEAST(p_min_completion, v_cap);
      v_max := v_cap;
      v_limited := NULL;
      v_refused := NULL;
      v_funded := NULL;
      -- Limits on everything the user spends, however it is paid for.
      v_fit := v_token_cap - v_gtokens_used - p_prompt;
      IF v_fit < v_max THEN v_max := v_fit; v_limited := 'global_cap'; END IF;
      v_fit := cm_fit_cost(v_cost_day_cap - v_gcost_day_used, p_prompt, v_in, v_out, v_max);
      IF v_fit < v_max THEN v_max := v_fit; v_limited := 'global_cost_day'; END IF;
      v_fit := cm_fit_cost(v_cost_month_cap - v_gcost_month_used, p_prompt, v_in, v_out, v_max);
      IF v_fit < v_max THEN v_max := v_fit; v_limited := 'global_cost_month'; END IF;
      v_fit := cm_fit_cost(v_personal - v_spend_used, p_prompt, v_in, v_out, v_max);
      IF v_fit < v_max THEN v_max := v_fit; v_limited := 'personal'; END IF;
      IF v_max < v_min THEN
        v_refused := v_limited;
      ELSE
        -- The plan's allowance first (tokens and dollars), then credits.
        v_amax := v_max; v_alimited := v_limited;
        v_fit := p_tokens_month_limit - v_tokens_used - p_prompt;
        IF v_fit < v_amax THEN v_amax := v_fit; v_alimited := 'tokens'; END IF;
        v_fit := cm_fit_cost(p_cost_month_limit - v_cost_used, p_prompt, v_in, v_out, v_amax);
        IF v_fit < v_amax THEN v_amax := v_fit; v_alimited := 'cost_month'; END IF;
        IF v_amax >= v_min THEN
          v_funded := 'allowance'; v_max := v_amax; v_limited := v_alimited;
        ELSIF NOT p_is_guest AND v_balance - p_prompt >= v_min THEN
          v_funded := 'credits';
          IF v_balance - p_prompt < v_max THEN v_max := v_balance - p_prompt; v_limited := 'credits'; END IF;
        ELSIF NOT p_is_guest AND v_balance > 0 THEN
          v_refused := 'credits';
        ELSE
          v_refused := v_alimited;
        END IF;
      END IF;
      IF v_try = 1 THEN
        v_first_refusal := v_refused;
        IF v_refused IS NULL THEN
          v_model := p_model; v_first_max := v_max; v_first_limited := v_limited; v_first_funded := v_funded;
          -- A whole reply: no need to look further.
          EXIT WHEN v_limited IS NULL;
        END IF;
      ELSIF v_refused IS NULL AND (v_model IS NULL OR v_limited IS NULL) THEN
        -- The fallback answers: the model asked for cannot, or only shortened while the fallback can whole.
        v_model := p_fallback_model; v_first_max := v_max; v_first_limited := v_limited; v_first_funded := v_funded;
      END IF;
    END LOOP;
    IF v_model IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = COALESCE(v_first_refusal, v_refused, 'tokens');
    END IF;
    v_max := v_first_max; v_limited := v_first_limited; v_funded := v_first_funded;
    IF v_model = p_model THEN v_in := p_in_price; v_out := p_out_price; ELSE v_in := p_fallback_in_price; v_out := p_fallback_out_price; END IF;

    -- Take it: each update is conditional on its limit (another writer may have taken some meanwhile).
    v_cost := cm_chat_cost(p_prompt, v_max, v_in, v_out);
    IF v_funded = 'allowance' THEN
      v_allowance := p_prompt + v_max;
    ELSE
      v_credit := p_prompt + v_max;
      -- The credit rule is cm_credit_take's (the balance and its ledger row, all or nothing).
      SELECT t.taken, t.balance INTO v_taken, v_balance
        FROM cm_credit_take(p_user_id, v_credit, 'spend', 'chat reservation', NULL, NULL, p_reservation_id, true) t;
      IF v_taken <> v_credit THEN RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = 'credits'; END IF;
    END IF;
    -- The counters, in one statement, by cm_counter_try's rule row by row: the plan's allowance
    -- (when it pays), the personal limit, the global caps; the dollar counters only for a reply
    -- that costs something. A counter not taken refuses with the first such limit in this
    -- order (the reason names it), and the refusal rolls back everything (the EXCEPTION block).
    v_lim_cost_month := COALESCE(p_cost_month_limit, c_none);
    v_lim_personal := COALESCE(v_personal, c_none);
    v_lim_cost_day := COALESCE(v_cost_day_cap, c_none);
    v_lim_cost_gmonth := COALESCE(v_cost_month_cap, c_none);
    WITH taken AS (
      INSERT INTO quota_counters AS q (subject, kind, period_start, used)
      SELECT t.subject, t.kind, t.period, t.n
        FROM (VALUES (1, v_subject, 'tokens_month', p_month, v_allowance, p_tokens_month_limit, v_funded = 'allowance'),
                     (2, v_subject, 'cost_month', p_month, v_cost, v_lim_cost_month, v_funded = 'allowance' AND v_cost > 0),
                     (3, v_subject, 'spend_month', p_month, v_cost, v_lim_personal, v_cost > 0),
                     (4, 'global', 'global_tokens_day', p_day, p_prompt + v_max, v_token_cap, true),
                     (5, 'global', 'global_cost_day', p_day, v_cost, v_lim_cost_day, v_cost > 0),
                     (6, 'global', 'global_cost_month', p_global_month, v_cost, v_lim_cost_gmonth, v_cost > 0)) t(ord, subject, kind, period, n, lim, applies)
       WHERE t.applies AND t.n <= t.lim
       ORDER BY t.ord
      ON CONFLICT (subject, kind, period_start) DO UPDATE
         SET used = q.used + EXCLUDED.used, updated_at = now()
       WHERE q.used + EXCLUDED.used <= CASE q.kind WHEN 'tokens_month' THEN p_tokens_month_limit
                                                   WHEN 'cost_month' THEN v_lim_cost_month
                                                   WHEN 'spend_month' THEN v_lim_personal
                                                   WHEN 'global_tokens_day' THEN v_token_cap
                                                   WHEN 'global_cost_day' THEN v_lim_cost_day
                                                   WHEN 'global_cost_month' THEN v_lim_cost_gmonth END
      RETURNING q.kind)
    SELECT COALESCE(array_agg(taken.kind), '{}') INTO v_took FROM taken;
    IF cardinality(v_took) < (CASE WHEN v_funded = 'allowance' THEN 2 ELSE 1 END) + (CASE WHEN v_cost > 0 THEN (CASE WHEN v_funded = 'allowance' THEN 4 ELSE 3 END) ELSE 0 END) THEN
      RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused',
        DETAIL = CASE WHEN v_funded = 'allowance' AND NOT 'tokens_month' = ANY(v_took) THEN 'tokens'
                      WHEN v_funded = 'allowance' AND v_cost > 0 AND NOT 'cost_month' = ANY(v_took) THEN 'cost_month'
                      WHEN v_cost > 0 AND NOT 'spend_month' = ANY(v_took) THEN 'personal'
                      WHEN NOT 'global_tokens_day' = ANY(v_took) THEN 'global_cap'
                      WHEN NOT 'global_cost_day' = ANY(v_took) THEN 'global_cost_day'
                      ELSE 'global_cost_month' END;
    END IF;

    IF v_conversation IS NOT NULL THEN
      IF p_exclusive AND EXISTS (SELECT 1 FROM reservations r WHERE r.status = 'held' AND r.expires_at > p_now AND r.conversation_id = v_conversation) THEN
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = 'conversation_busy';
      END IF;
      UPDATE conversations c SET message_count = c.message_count + v_added, updated_at = p_now,
                                 active_leaf_id = CASE WHEN p_reply_to IS NULL THEN v_message ELSE c.active_leaf_id END
       WHERE c.id = v_conversation AND c.user_id = p_user_id AND c.deleted_at IS NULL AND c.message_count <= p_max_messages - 1 - v_added;
      GET DIAGNOSTICS v_count = ROW_COUNT;
      IF v_count <> 1 THEN
        IF EXISTS (SELECT 1 FROM conversations c WHERE c.id = v_conversation AND c.user_id = p_user_id AND c.deleted_at IS NULL) THEN
          RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = 'conversation_too_long';
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = 'not_found';
      END IF;
      -- The message the new one follows, or the one answered again, must be of this conversation.
      IF COALESCE(p_reply_to, p_parent_id) IS NOT NULL AND NOT EXISTS (
          SELECT 1 FROM messages m WHERE m.id = COALESCE(p_reply_to, p_parent_id) AND m.conversation_id = v_conversation
             AND (p_reply_to IS NULL OR m.role = 'user')) THEN
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = 'not_found';
      END IF;
    ELSE
      IF p_reply_to IS NOT NULL OR p_parent_id IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'refused', DETAIL = 'not_found';
      END IF;
      v_conversation := gen_random_uuid();
      INSERT INTO conversations (id, user_id, title, model, message_count, created_at, updated_at, active_leaf_id)
      VALUES (v_conversation, p_user_id, p_title, v_model, 1, p_now, p_now, v_message);
    END IF;
    IF p_reply_to IS NULL THEN
      INSERT INTO messages (id, conversation_id, user_id, role, content, created_at, parent_id)
      VALUES (v_message, v_conversation, p_user_id, 'user', p_content, p_now, p_parent_id);
    ELSE
      v_message := p_reply_to;
    END IF;
    INSERT INTO reservations (id, user_id, kind, model, allowance_tokens, credit_tokens, global_tokens, prompt_tokens,
                              month_period_start, day_period_start, request_id, conversation_id, expires_at, created_at,
                              cost_micro_usd, plan_cost_micro_usd, global_month_start, user_message_id, regenerate)
    VALUES (p_reservation_id, p_user_id, 'chat', v_model, v_allowance, v_credit, p_prompt + v_max, p_prompt,
            p_month, p_day, p_request_id, v_conversation, p_expires_at, p_now,
            v_cost, CASE WHEN v_funded = 'allowance' THEN v_cost ELSE 0 END, p_global_month, v_message, p_reply_to IS NOT NULL);
  EXCEPTION WHEN SQLSTATE 'P0001' THEN
    GET STACKED DIAGNOSTICS v_reason = PG_EXCEPTION_DETAIL;
    outcome := v_reason; max_tokens := 0; funded_by := 'none'; conversation_id := NULL; user_message_id := NULL;
    credit_balance := v_balance; model := NULL; limited_by := NULL; cost_micro_usd := 0;
    RETURN NEXT;
    RETURN;
  END;
  outcome := 'ok'; max_tokens := v_max; funded_by := v_funded; conversation_id := v_conversation; user_message_id := v_message;
  credit_balance := v_balance; model := v_model; limited_by := v_limited; cost_micro_usd := v_cost;
  RETURN NEXT;
END;
$function$;
