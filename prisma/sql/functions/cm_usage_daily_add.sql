-- cm_usage_daily_add: its one current definition (docs/decisions/010-sql-functions-in-files.md).
-- Change the function here, not in a migration: the migration runner applies this file
-- after the versioned migrations whenever its checksum changes. A change of arguments or
-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.
--
-- The roll-up rule of usage_daily, in one place: rows are added to the row of the same
-- key (every measure summed). The usage_events trigger (cm_roll_up_usage) and an account
-- deletion (cm_usage_daily_anonymise) both go through it. Keys are upserted in a fixed
-- order so concurrent callers cannot deadlock on them; p_rows holds each key once.
CREATE OR REPLACE FUNCTION public.cm_usage_daily_add(p_rows usage_daily[])
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
  INSERT INTO usage_daily AS d (day, user_id, is_guest, model, provider, kind, status, requests, prompt_tokens, completion_tokens,
                                cached_tokens, cost_micro_usd, credit_tokens, tts_chars, estimated_requests, latency_ms)
  SELECT r.day, r.user_id, r.is_guest, r.model, r.provider, r.kind, r.status, r.requests, r.prompt_tokens, r.completion_tokens,
         r.cached_tokens, r.cost_micro_usd, r.credit_tokens, r.tts_chars, r.estimated_requests, r.latency_ms
    FROM unnest(p_rows) r
   ORDER BY r.day, r.user_id, r.is_guest, r.model, r.provider, r.kind, r.status
  ON CONFLICT (day, user_id, is_guest, model, provider, kind, status) DO UPDATE SET
    requests = d.requests + EXCLUDED.requests,
    prompt_tokens = d.prompt_tokens + EXCLUDED.prompt_tokens,
    completion_tokens = d.completion_tokens + EXCLUDED.completion_tokens,
    cached_tokens = d.cached_tokens + EXCLUDED.cached_tokens,
    cost_micro_usd = d.cost_micro_usd + EXCLUDED.cost_micro_usd,
    credit_tokens = d.credit_tokens + EXCLUDED.credit_tokens,
    tts_chars = d.tts_chars + EXCLUDED.tts_chars,
    estimated_requests = d.estimated_requests + EXCLUDED.estimated_requests,
    latency_ms = d.latency_ms + EXCLUDED.latency_ms;
END;
$function$;
