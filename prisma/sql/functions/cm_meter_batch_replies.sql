-- cm_meter_batch_replies: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
-- The meter batch, then the replies' finish reasons, with two optional fields of a settle item:
-- `message_status` replaces the stored reply's status (the usage event keeps the
-- settlement's: the sweeper meters 'expired' and stores the reply 'interrupted'),
-- and `clear_partial` drops the reservation's saved text. The ledger functions
-- stay as they are.
DROP FUNCTION IF EXISTS cm_meter_batch_replies(jsonb, jsonb, integer);
CREATE OR REPLACE FUNCTION cm_meter_batch_replies(p_settles jsonb, p_reserves jsonb, p_lock_timeout_ms integer)
RETURNS TABLE (o_kind text, o_idx integer, o_outcome text, o_max_tokens bigint, o_funded_by text, o_conversation_id uuid,
               o_user_message_id uuid, o_credit_balance bigint, o_usage_event_id bigint, o_credit_tokens bigint, o_model text, o_limited_by text, o_cost bigint)
LANGUAGE plpgsql AS $$
DECLARE
  s record;
BEGIN
  RETURN QUERY SELECT * FROM cm_meter_batch_bounded(p_settles, p_reserves, p_lock_timeout_ms);
  -- One primary-key update per reply (a join could pick a scan of the messages table).
  FOR s IN SELECT * FROM jsonb_to_recordset(COALESCE(p_settles, '[]'::jsonb))
                 AS x(reservation_id uuid, assistant_id uuid, finish_reason text, message_status text, clear_partial boolean)
            WHERE x.finish_reason IS NOT NULL OR x.message_status IS NOT NULL OR x.clear_partial
  LOOP
    IF s.finish_reason IS NOT NULL OR s.message_status IS NOT NULL THEN
      UPDATE messages SET finish_reason = COALESCE(s.finish_reason, finish_reason), status = COALESCE(s.message_status, status)
       WHERE id = s.assistant_id AND role = 'assistant';
    END IF;
    IF s.clear_partial THEN
      UPDATE reservations SET partial_content = NULL WHERE id = s.reservation_id AND partial_content IS NOT NULL;
    END IF;
  END LOOP;
END;
$$;
