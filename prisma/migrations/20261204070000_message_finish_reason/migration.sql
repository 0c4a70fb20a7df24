-- How each assistant reply ended, kept with the message so that a reload shows it
-- (a reply cut at the length limit offers "Continue", a refusal is marked): the
-- provider's finish_reason (stop, length, content_filter, tool_calls, ...), or
-- 'refusal' when the model refused; NULL for a reply that was stopped or broke
-- off, and for replies stored before this column existed.
ALTER TABLE "messages" ADD COLUMN "finish_reason" TEXT;

-- The meter batch, then each settled reply's finish reason. The reply row is
-- written by cm_settle_chat inside cm_meter_batch; this sets its finish_reason in
-- the same transaction, so one statement still meters and stores a reply, and
-- the ledger functions stay as they are. Settle items may carry `finish_reason`
-- (text or null) beside the fields cm_meter_batch reads.
CREATE FUNCTION cm_meter_batch_replies(p_settles jsonb, p_reserves jsonb, p_lock_timeout_ms integer)
RETURNS TABLE (o_kind text, o_idx integer, o_outcome text, o_max_tokens bigint, o_funded_by text, o_conversation_id uuid,
               o_user_message_id uuid, o_credit_balance bigint, o_usage_event_id bigint, o_credit_tokens bigint)
LANGUAGE plpgsql AS $$
DECLARE
  s record;
BEGIN
  RETURN QUERY SELECT * FROM cm_meter_batch_bounded(p_settles, p_reserves, p_lock_timeout_ms);
  -- One primary-key update per reply (a join could pick a scan of the messages table).
  FOR s IN SELECT * FROM jsonb_to_recordset(COALESCE(p_settles, '[]'::jsonb)) AS x(assistant_id uuid, finish_reason text)
            WHERE x.finish_reason IS NOT NULL
  LOOP
    UPDATE messages SET finish_reason = s.finish_reason WHERE id = s.assistant_id AND role = 'assistant';
  END LOOP;
END;
$$;
