-- Billing: one Stripe customer per user, subscriptions as Stripe last described
-- them, every received Stripe event (stored before it is applied), payments for
-- the Billing tab, and credit-pack purchases with the tokens they granted.

CREATE TABLE "billing_customers" (
    "user_id" UUID NOT NULL,
    "stripe_customer_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "billing_customers_pkey" PRIMARY KEY ("user_id"),
    CONSTRAINT "billing_customers_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "billing_customers_stripe_customer_id_key" ON "billing_customers"("stripe_customer_id");

-- stripe_state_at is the Stripe time (event.created) of the newest state applied:
-- an event older than it makes the handler retrieve the subscription instead.
CREATE TABLE "subscriptions" (
    "id" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "stripe_customer_id" TEXT NOT NULL,
    "item_id" TEXT,
    "price_id" TEXT,
    "plan_id" TEXT,
    "status" TEXT NOT NULL,
    "current_period_start" TIMESTAMPTZ(3),
    "current_period_end" TIMESTAMPTZ(3),
    "cancel_at_period_end" BOOLEAN NOT NULL DEFAULT false,
    "canceled_at" TIMESTAMPTZ(3),
    "past_due_since" TIMESTAMPTZ(3),
    "effective_plan_id" TEXT NOT NULL DEFAULT 'free',
    "stripe_state_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "subscriptions_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "subscriptions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "subscriptions_user_id_idx" ON "subscriptions"("user_id");
CREATE INDEX "subscriptions_status_idx" ON "subscriptions"("status");

CREATE TABLE "stripe_events" (
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "stripe_created_at" TIMESTAMPTZ(3) NOT NULL,
    "livemode" BOOLEAN NOT NULL DEFAULT false,
    "payload" JSONB NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_at" TIMESTAMPTZ(3),
    "outcome" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    CONSTRAINT "stripe_events_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "stripe_events_received_at_idx" ON "stripe_events"("received_at");

CREATE TABLE "payments" (
    "id" BIGSERIAL NOT NULL,
    "user_id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "amount_micro_usd" BIGINT NOT NULL,
    "refunded_micro_usd" BIGINT NOT NULL DEFAULT 0,
    "currency" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "stripe_object_id" TEXT NOT NULL,
    "stripe_payment_intent_id" TEXT,
    "stripe_event_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "payments_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "payments_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "payments_kind_check" CHECK ("kind" IN ('subscription', 'pack')),
    CONSTRAINT "payments_status_check" CHECK ("status" IN ('paid', 'failed', 'refunded', 'partially_refunded')),
    CONSTRAINT "payments_amounts_nonnegative" CHECK ("amount_micro_usd" >= 0 AND "refunded_micro_usd" >= 0)
);
CREATE UNIQUE INDEX "payments_stripe_object_id_key" ON "payments"("stripe_object_id");
CREATE INDEX "payments_user_id_created_at_idx" ON "payments"("user_id", "created_at");

-- refund_tokens: tokens due back for the amount refunded so far (pro rata);
-- clawed_back_tokens: what the balance could actually give back (never below
-- zero: tokens already spent stay spent, the difference is kept here).
CREATE TABLE "pack_purchases" (
    "checkout_session_id" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "pack_id" TEXT NOT NULL,
    "tokens" BIGINT NOT NULL,
    "amount_micro_usd" BIGINT NOT NULL,
    "payment_intent_id" TEXT,
    "refunded_micro_usd" BIGINT NOT NULL DEFAULT 0,
    "refund_tokens" BIGINT NOT NULL DEFAULT 0,
    "clawed_back_tokens" BIGINT NOT NULL DEFAULT 0,
    "source_event_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "pack_purchases_pkey" PRIMARY KEY ("checkout_session_id"),
    CONSTRAINT "pack_purchases_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "pack_purchases_tokens_positive" CHECK ("tokens" > 0),
    CONSTRAINT "pack_purchases_refunds_bounded" CHECK ("refund_tokens" >= 0 AND "refund_tokens" <= "tokens" AND "clawed_back_tokens" >= 0 AND "clawed_back_tokens" <= "refund_tokens")
);
CREATE UNIQUE INDEX "pack_purchases_payment_intent_id_key" ON "pack_purchases"("payment_intent_id");
CREATE INDEX "pack_purchases_user_id_idx" ON "pack_purchases"("user_id");
