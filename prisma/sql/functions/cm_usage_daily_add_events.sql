-- cm_usage_daily_add_events: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
--
-- Rolls usage events up into usage_daily: grouped by roll-up key (events without a user
-- under the nil UUID) and added by cm_usage_daily_add. Called by the usage_events trigger
-- (cm_roll_up_usage) with a statement's inserted events, and once per meter batch
-- (cm_meter_batch) with the events of all its settlements, which the trigger then leaves
-- to it (issue 17). The rows are built by column name (to_jsonb of the grouped row), so a
-- column of usage_daily left out here is NULL and refused by its NOT NULL, never silently
-- shifted.
CREATE OR REPLACE FUNCTION public.cm_usage_daily_add_events(p_events usage_events[])
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
  PERFORM cm_usage_daily_add(ARRAY(
    SELECT jsonb_populate_record(NULL::usage_daily, to_jsonb(g))
      FROM (SELECT (n.created_at AT TIME ZONE 'UTC')::date AS day, COALESCE(n.user_id, '00000000-0000-0000-0000-000000000000'::uuid) AS user_id,
                   n.is_guest, COALESCE(n.model, '') AS model, COALESCE(n.provider, '') AS provider, n.kind, n.status,
                   count(*) AS requests, sum(n.prompt_tokens) AS prompt_tokens, sum(n.completion_tokens) AS completion_tokens,
                   sum(n.cached_tokens) AS cached_tokens, sum(n.cost_micro_usd) AS cost_micro_usd, sum(n.credit_tokens) AS credit_tokens,
                   sum(n.tts_chars) AS tts_chars, count(*) FILTER (WHERE n.estimated) AS estimated_requests,
                   COALESCE(sum(n.latency_ms), 0) AS latency_ms
              FROM unnest(p_events) n
             GROUP BY 1, 2, 3, 4, 5, 6, 7) g));
END;
$function$;
