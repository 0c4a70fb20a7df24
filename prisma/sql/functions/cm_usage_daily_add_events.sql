-- cm_usage_daily_add_events: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
--
-- Rolls usage events up into usage_daily: grouped by roll-up key (events without a user
-- under the nil UUID) and added by cm_usage_daily_add. Called by the usage_events trigger
-- (cm_roll_up_usage) with a statement's inserted events, and once per meter batch
-- (cm_meter_batch) with the events of all its settlements, which the trigger then leaves
-- to it (issue 17). Each grouped row is built as a usage_daily value by a row constructor,
-- in the table's column order (provider, added last, is last): a column added to or dropped
-- from usage_daily makes the cast fail ("too few / too many columns") rather than shift a
-- value. It was built through to_jsonb and jsonb_populate_record, by name, before; the two
-- conversions cost more than the grouping and the upsert together (issue 17: about 8 us a
-- row, 25 rows in a batch of 50 streams).
CREATE OR REPLACE FUNCTION public.cm_usage_daily_add_events(p_events usage_events[])
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
  PERFORM cm_usage_daily_add(ARRAY(
    SELECT ROW((n.created_at AT TIME ZONE 'UTC')::date, COALESCE(n.user_id, '00000000-0000-0000-0000-000000000000'::uuid), n.is_guest,
               COALESCE(n.model, ''), n.kind, n.status,
               count(*), sum(n.prompt_tokens), sum(n.completion_tokens), sum(n.cached_tokens), sum(n.cost_micro_usd),
               sum(n.credit_tokens), sum(n.tts_chars), count(*) FILTER (WHERE n.estimated), COALESCE(sum(n.latency_ms), 0),
               COALESCE(n.provider, ''))::usage_daily
      FROM unnest(p_events) n
     GROUP BY (n.created_at AT TIME ZONE 'UTC')::date, COALESCE(n.user_id, '00000000-0000-0000-0000-000000000000'::uuid), n.is_guest,
              COALESCE(n.model, ''), COALESCE(n.provider, ''), n.kind, n.status));
END;
$function$;
