-- cm_roll_up_usage: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
--
-- The statement-level AFTER INSERT trigger of usage_events: the inserted events are rolled
-- up into usage_daily by cm_usage_daily_add_events. A meter batch (cm_meter_batch) sets
-- chatmeter.roll_up to 'batch' (transaction-local) while its settlements insert their events
-- and then rolls them all up in one call itself (issue 17); meanwhile the trigger leaves them.
CREATE OR REPLACE FUNCTION public.cm_roll_up_usage()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
  v_events usage_events[];
BEGIN
  IF current_setting('chatmeter.roll_up', true) = 'batch' THEN RETURN NULL; END IF;
  v_events := ARRAY(SELECT n FROM new_usage_events n);
  PERFORM cm_usage_daily_add_events(v_events);
  RETURN NULL;
END;
$function$;
