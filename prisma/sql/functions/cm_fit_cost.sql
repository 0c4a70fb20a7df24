-- cm_fit_cost: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
-- The largest completion (at most p_max) whose worst-case price (cm_chat_cost) fits in
-- p_remaining micro-USD; -1 when not even the prompt fits; p_max when there is no cap (NULL).
-- cm_chat_cost(P, M) <= R  <=>  P*in + M*out <= R * 1e6 (R an integer), so the fit is exact.
-- One SQL expression, so that the planner inlines it into cm_reserve_chat's expressions (a
-- PL/pgSQL call each before, six per reservation: issue 17). CASE takes its branches in order,
-- so the division is reached only with p_out > 0.
CREATE OR REPLACE FUNCTION public.cm_fit_cost(p_remaining bigint, p_prompt bigint, p_in bigint, p_out bigint, p_max bigint)
 RETURNS bigint
 LANGUAGE sql
 IMMUTABLE
AS $function$
  SELECT CASE WHEN p_remaining IS NULL THEN p_max
              WHEN p_remaining::numeric * 1000000 - p_prompt::numeric * p_in < 0 THEN -1
              WHEN p_out <= 0 THEN p_max
              ELSE LEAST(p_max::numeric, floor((p_remaining::numeric * 1000000 - p_prompt::numeric * p_in) / p_out))::bigint
         END;
$function$;
