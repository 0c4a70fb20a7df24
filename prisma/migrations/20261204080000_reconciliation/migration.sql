-- Reconciliation with the provider's bill (docs/providers.md, "Reconciliation"):
-- what the provider says a UTC day cost, from OpenAI's Costs API (the daily job)
-- or from an export of the same shape (`npm run reconcile -- --file`). One row
-- per provider and day, overwritten by a later fetch (the provider's figures for
-- recent days can still move). The metered side is read from usage_daily.
CREATE TABLE "provider_costs" (
    "provider" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "cost_micro_usd" BIGINT NOT NULL,
    "source" TEXT NOT NULL,
    "fetched_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "provider_costs_pkey" PRIMARY KEY ("provider", "day"),
    CONSTRAINT "provider_costs_source_check" CHECK ("source" IN ('api', 'file'))
);
