-- cm_credit_add: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
--
-- Adds p_tokens (>= 0) to a user's credits: the balance in credit_accounts and an
-- append-only credit_ledger row with the balance after it, in the caller's transaction,
-- so the balance always equals the sum of the ledger. Only kinds that add are accepted.
-- Returns the new balance and the ledger row's id (NULL when nothing was added).
CREATE OR REPLACE FUNCTION public.cm_credit_add(p_user_id uuid, p_tokens bigint, p_kind text, p_reason text, p_actor_id uuid, p_source_event_id text, p_reservation_id uuid, OUT balance bigint, OUT entry_id bigint)
 RETURNS record
 LANGUAGE plpgsql
AS $function$
BEGIN
  IF p_tokens IS NULL OR p_tokens < 0 THEN
    RAISE EXCEPTION 'cm_credit_add adds a positive amount, not %', p_tokens USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_kind IS NULL OR p_kind NOT IN ('purchase', 'grant', 'adjustment', 'spend_release', 'dispute_release') THEN
    RAISE EXCEPTION 'cm_credit_add: "%" is not a kind of change that adds credits', p_kind USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_tokens = 0 THEN
    balance := COALESCE((SELECT c.balance_tokens FROM credit_accounts c WHERE c.user_id = p_user_id), 0);
    RETURN;
  END IF;
  INSERT INTO credit_accounts AS c (user_id, balance_tokens) VALUES (p_user_id, p_tokens)
  ON CONFLICT (user_id) DO UPDATE SET balance_tokens = c.balance_tokens + EXCLUDED.balance_tokens, updated_at = now()
  RETURNING c.balance_tokens INTO balance;
  INSERT INTO credit_ledger (user_id, delta_tokens, balance_after, kind, reason, actor_id, source_event_id, reservation_id)
  VALUES (p_user_id, p_tokens, balance, p_kind, p_reason, p_actor_id, p_source_event_id, p_reservation_id)
  RETURNING id INTO entry_id;
END;
$function$;
