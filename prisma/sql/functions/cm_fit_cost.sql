-- cm_fit_cost: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
-- The largest completion (at most p_max) whose worst-case price (cm_chat_cost) fits in
-- p_remaining micro-USD; -1 when not even the prompt fits; p_max when there is no cap (NULL).
-- cm_chat_cost(P, M) <= R  <=>  P*in + M*out <= R * 1e6 (R an integer), so the fit is exact.
CREATE OR REPLACE FUNCTION public.cm_fit_cost(p_remaining bigint, p_prompt bigint, p_in bigint, p_out bigint, p_max bigint)
 RETURNS bigint
 LANGUAGE plpgsql
 IMMUTABLE
AS $function$
DECLARE
  v_room numeric;
BEGIN
  IF p_remaining IS NULL THEN RETURN p_max; END IF;
  v_room := p_remaining::numeric * 1000000 - p_prompt::numeric * p_in;
  IF v_room < 0 THEN RETURN -1; END IF;
  IF p_out <= 0 THEN RETURN p_max; END IF;
  RETURN LEAST(p_max::numeric, floor(v_room / p_out))::bigint;
END;
$function$;
