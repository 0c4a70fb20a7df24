/**
 * The user id under which usage of deleted accounts and of anonymised settlements is
 * rolled up (usage_daily has a non-null user key): ADR 005. The SQL functions that write
 * it (cm_roll_up_usage, cm_usage_daily_anonymise) hold the same value; TypeScript only reads it.
 */
export const ANONYMOUS_USER_ID = '00000000-0000-0000-0000-000000000000';
