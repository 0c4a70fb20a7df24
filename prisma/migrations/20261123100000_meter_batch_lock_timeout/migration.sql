-- A meter batch waits for row locks at most p_lock_timeout_ms. Batches run one
-- after another (cm_meter_batch's advisory lock), so a batch stuck behind a row
-- lock that some other transaction holds would hold up every instance's chats;
-- with this bound it fails instead (SQLSTATE 55P03), and the batcher runs its
-- items again one by one, so only the item that needs the locked row waits and
-- fails. The timeout is set after the advisory lock is taken: waiting for other
-- batches is not waiting for a stuck row. cm_meter_batch takes the advisory lock
-- again, which a transaction that holds it gets at once.
CREATE FUNCTION cm_meter_batch_bounded(p_settles jsonb, p_reserves jsonb, p_lock_timeout_ms integer)
RETURNS TABLE (o_kind text, o_idx integer, o_outcome text, o_max_tokens bigint, o_funded_by text, o_conversation_id uuid,
               o_user_message_id uuid, o_credit_balance bigint, o_usage_event_id bigint, o_credit_tokens bigint)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(72707370);
  PERFORM set_config('lock_timeout', p_lock_timeout_ms::text || 'ms', true);
  RETURN QUERY SELECT * FROM cm_meter_batch(p_settles, p_reserves);
END;
$$;
