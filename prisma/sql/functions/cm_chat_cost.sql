-- cm_chat_cost: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
-- The worst-case price of a chat in integer micro-USD: every prompt token at the input price
-- and every completion token at the output price (prices per million tokens), rounded up once,
-- as costMicroUsd (shared/src/money.ts) rounds a settled cost. Exact in numeric.
CREATE OR REPLACE FUNCTION public.cm_chat_cost(p_prompt bigint, p_completion bigint, p_in bigint, p_out bigint)
 RETURNS bigint
 LANGUAGE sql
 IMMUTABLE
AS $function$
  SELECT ceil((p_prompt::numeric * p_in + p_completion::numeric * p_out) / 1000000)::bigint;
$function$;
