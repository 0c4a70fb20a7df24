-- cm_credit_take: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
--
-- Takes credits, never below zero, with the credit_ledger row of what was taken, in the
-- caller's transaction. p_exact: all of p_tokens or nothing (a reservation that must be
-- covered); otherwise as much of p_tokens as the balance holds (refund claw-backs,
-- dispute holds, overruns, a negative adjustment). The account's row lock orders
-- concurrent takes, so each sees the balance the one before it left and none overdraws.
-- Returns what was taken (0 when an exact take was refused), the balance after it and
-- the ledger row's id (NULL when nothing was taken).
CREATE OR REPLACE FUNCTION public.cm_credit_take(p_user_id uuid, p_tokens bigint, p_kind text, p_reason text, p_actor_id uuid, p_source_event_id text, p_reservation_id uuid, p_exact boolean, OUT taken bigint, OUT balance bigint, OUT entry_id bigint)
 RETURNS record
 LANGUAGE plpgsql
AS $function$
BEGIN
  IF p_tokens IS NULL OR p_tokens < 0 THEN
    RAISE EXCEPTION 'cm_credit_take takes a positive amount, not %', p_tokens USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_kind IS NULL OR p_kind NOT IN ('spend', 'refund', 'adjustment', 'dispute_hold', 'dispute_loss') THEN
    RAISE EXCEPTION 'cm_credit_take: "%" is not a kind of change that takes credits', p_kind USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT c.balance_tokens INTO balance FROM credit_accounts c WHERE c.user_id = p_user_id FOR UPDATE;
  balance := COALESCE(balance, 0);
  taken := CASE WHEN p_exact THEN CASE WHEN balance >= p_tokens THEN p_tokens ELSE 0 END ELSE LEAST(balance, p_tokens) END;
  IF taken = 0 THEN RETURN; END IF;
  UPDATE credit_accounts c SET balance_tokens = c.balance_tokens - taken, updated_at = now()
   WHERE c.user_id = p_user_id
  RETURNING c.balance_tokens INTO balance;
  INSERT INTO credit_ledger (user_id, delta_tokens, balance_after, kind, reason, actor_id, source_event_id, reservation_id)
  VALUES (p_user_id, -taken, balance, p_kind, p_reason, p_actor_id, p_source_event_id, p_reservation_id)
  RETURNING id INTO entry_id;
END;
$function$;
