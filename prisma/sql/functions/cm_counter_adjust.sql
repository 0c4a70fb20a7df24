-- cm_counter_adjust: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
CREATE OR REPLACE FUNCTION public.cm_counter_adjust(p_subject text, p_kind text, p_period timestamp with time zone, p_delta bigint)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
  IF p_delta = 0 THEN RETURN; END IF;
  INSERT INTO quota_counters AS q (subject, kind, period_start, used)
  VALUES (p_subject, p_kind, p_period, GREATEST(0, p_delta))
  ON CONFLICT (subject, kind, period_start) DO UPDATE
     SET used = GREATEST(0, q.used + p_delta), updated_at = now();
END;
$function$;
