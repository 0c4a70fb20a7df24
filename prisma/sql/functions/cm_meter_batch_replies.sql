-- cm_meter_batch_replies: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
-- The meter batch, then what a settle item may ask besides: `clear_partial` drops the
-- reservation's saved text. (A settle item's `finish_reason` and `message_status` are written
-- with the stored reply by cm_settle_chat itself, in its one INSERT.)
DROP FUNCTION IF EXISTS cm_meter_batch_replies(jsonb, jsonb, integer);
CREATE OR REPLACE FUNCTION cm_meter_batch_replies(p_settles jsonb, p_reserves jsonb, p_lock_timeout_ms integer)
RETURNS TABLE (o_kind text, o_idx integer, o_outcome text, o_max_tokens bigint, o_funded_by text, o_conversation_id uuid,
               o_user_message_id uuid, o_credit_balance bigint, o_usage_event_id bigint, o_credit_tokens bigint, o_model text, o_limited_by text, o_cost bigint)
LANGUAGE plpgsql AS $$
DECLARE
  s record;
BEGIN
  RETURN QUERY SELECT * FROM cm_meter_batch_bounded(p_settles, p_reserves, p_lock_timeout_ms);
  -- One primary-key update per reservation (a join could pick a scan of the reservations table).
  FOR s IN SELECT * FROM jsonb_to_recordset(COALESCE(p_settles, '[]'::jsonb)) AS x(reservation_id uuid, clear_partial boolean) WHERE x.clear_partial
  LOOP
    UPDATE reservations SET partial_content = NULL WHERE id = s.reservation_id AND partial_content IS NOT NULL;
  END LOOP;
END;
$$;
