-- cm_counter_try: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
CREATE OR REPLACE FUNCTION public.cm_counter_try(p_subject text, p_kind text, p_period timestamp with time zone, p_n bigint, p_limit bigint)
 RETURNS bigint
 LANGUAGE plpgsql
AS $function$
DECLARE
  v_used bigint;
BEGIN
  INSERT INTO quota_counters AS q (subject, kind, period_start, used)
  SELECT p_subject, p_kind, p_period, p_n WHERE p_n <= p_limit
  ON CONFLICT (subject, kind, period_start) DO UPDATE
     SET used = q.used + EXCLUDED.used, updated_at = now()
   WHERE q.used + EXCLUDED.used <= p_limit
  RETURNING q.used INTO v_used;
  RETURN v_used;
END;
$function$;
