-- cm_meter_batch_bounded: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
DROP FUNCTION IF EXISTS public.cm_meter_batch_bounded(jsonb, jsonb, integer);
CREATE OR REPLACE FUNCTION public.cm_meter_batch_bounded(p_settles jsonb, p_reserves jsonb, p_lock_timeout_ms integer)
 RETURNS TABLE(o_kind text, o_idx integer, o_outcome text, o_max_tokens bigint, o_funded_by text, o_conversation_id uuid, o_user_message_id uuid, o_credit_balance bigint, o_usage_event_id bigint, o_credit_tokens bigint, o_model text, o_limited_by text, o_cost bigint)
 LANGUAGE plpgsql
AS $function$
BEGIN
  PERFORM pg_advisory_xact_lock(72707370);
  PERFORM set_config('lock_timeout', p_lock_timeout_ms::text || 'ms', true);
  RETURN QUERY SELECT * FROM cm_meter_batch(p_settles, p_reserves);
END;
$function$;
