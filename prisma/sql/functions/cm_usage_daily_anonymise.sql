-- cm_usage_daily_anonymise: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
--
-- An account deletion: the user's daily roll-ups move to the anonymous key (the nil UUID,
-- where cm_roll_up_usage puts events without a user), merged into the rows already there
-- by the one roll-up rule (cm_usage_daily_add), so the roll-ups still equal the events.
-- Returns how many of the user's rows moved.
CREATE OR REPLACE FUNCTION public.cm_usage_daily_anonymise(p_user_id uuid)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
DECLARE
  v_anonymous CONSTANT uuid := '00000000-0000-0000-0000-000000000000';
  v_rows usage_daily[];
BEGIN
  IF p_user_id IS NULL OR p_user_id = v_anonymous THEN RETURN 0; END IF;
  WITH moved AS (DELETE FROM usage_daily d WHERE d.user_id = p_user_id RETURNING d AS r)
  SELECT array_agg(jsonb_populate_record(m.r, jsonb_build_object('user_id', v_anonymous))) INTO v_rows FROM moved m;
  IF v_rows IS NULL THEN RETURN 0; END IF;
  PERFORM cm_usage_daily_add(v_rows);
  RETURN cardinality(v_rows);
END;
$function$;
