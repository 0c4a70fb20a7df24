-- refuse_ledger_change: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
CREATE OR REPLACE FUNCTION public.refuse_ledger_change()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$function$;
