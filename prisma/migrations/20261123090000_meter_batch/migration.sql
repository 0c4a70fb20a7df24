-- Group commit for the chat meter: the settlements and reservations an instance
-- has waiting are applied in one statement and one transaction
-- (server/src/metering/meter-batch.ts). Every reservation and settlement touches
-- the same hot row (today's global token counter), so one transaction per
-- request makes them all queue for that row lock and pay a commit each; a batch
-- takes the row once and commits once. Each item still goes through
-- cm_settle_chat / cm_reserve_chat unchanged, so every limit is the same
-- conditional update as before, in order: settlements first (they release
-- what they did not use), then reservations, each seeing the ones before it.
--
-- Batches take a transaction-scoped advisory lock first, so the batches of
-- several instances run one after the other: without it, batch A could hold
-- user 1's counters and the global row while waiting for user 2's, which
-- batch B holds while waiting for the global row (a deadlock). Only this
-- function calls cm_reserve_chat / cm_settle_chat.
--
-- p_settles: [{idx, reservation_id, is_guest, ip_hash, model, prompt, completion,
--   cached, cost, status, estimated, latency_ms, refund_message, assistant_id,
--   assistant_content}]
-- p_reserves: [{idx, reservation_id, user_id, is_guest, ip_hash, at_now, at_hour,
--   at_day, at_month, expires_at, messages_hour_limit, messages_day_limit,
--   ip_day_limit, tokens_month_limit, prompt, max_tokens, min_completion,
--   default_cap, model, request_id, conversation_id, title, content, max_messages}]
-- One row back per item: o_kind 'settle' or 'reserve', o_idx its idx.
CREATE FUNCTION cm_meter_batch(p_settles jsonb, p_reserves jsonb)
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
      assistant_id uuid, assistant_content text)
  LOOP
    SELECT * INTO v FROM cm_settle_chat(s.reservation_id, s.is_guest, s.ip_hash, s.model, s.prompt, s.completion, s.cached, s.cost,
                                        s.status, s.estimated, s.latency_ms, s.refund_message, s.assistant_id, s.assistant_content);
    IF FOUND THEN
      RETURN QUERY SELECT 'settle'::text, s.idx, 'ok'::text, NULL::bigint, NULL::text, NULL::uuid, NULL::uuid, NULL::bigint,
                          v.usage_event_id, v.credit_tokens;
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
