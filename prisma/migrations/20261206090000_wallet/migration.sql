-- The founder's wallet: budgets in micro-USD (integers, as every amount).
-- app_settings: the admin's global provider-cost caps per UTC day and calendar month
-- (NULL: the environment's MAX_COST_PER_DAY_USD / MAX_COST_PER_MONTH_USD, if any).
ALTER TABLE "app_settings"
  ADD COLUMN "max_cost_per_day_micro_usd" BIGINT,
  ADD COLUMN "max_cost_per_month_micro_usd" BIGINT,
  ADD CONSTRAINT "app_settings_max_cost_check" CHECK (COALESCE("max_cost_per_day_micro_usd", 0) >= 0 AND COALESCE("max_cost_per_month_micro_usd", 0) >= 0);

-- A user's own monthly spending limit, below the plan's cap (NULL: none).
ALTER TABLE "user_preferences"
  ADD COLUMN "monthly_spend_limit_micro_usd" BIGINT,
  ADD CONSTRAINT "user_preferences_spend_limit_check" CHECK (COALESCE("monthly_spend_limit_micro_usd", 0) >= 0);

-- A reservation holds its worst-case cost on the dollar counters until it settles:
-- cost_micro_usd on the user's spend (personal limit) and the global day / month,
-- plan_cost_micro_usd the part on the plan's cap (the allowance's, not credits'),
-- global_month_start the calendar month of the global monthly cap.
ALTER TABLE "reservations"
  ADD COLUMN "cost_micro_usd" BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN "plan_cost_micro_usd" BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN "global_month_start" TIMESTAMPTZ(3);
