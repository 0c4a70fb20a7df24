-- Disputes (chargebacks and inquiries) on credit-pack charges. While a dispute is
-- open, the pack's unspent tokens are held: taken out of the balance through the
-- credit ledger (kind 'dispute_hold'), at most the tokens the disputed amount stands
-- for and never more than the balance has. A won dispute gives back what is still
-- held ('dispute_release'); a lost one keeps it out for good. One row per Stripe
-- dispute id: the idempotency key of the hold and of its end, whichever events
-- (and event ids) carry them and in whatever order they arrive.
CREATE TABLE "pack_disputes" (
    "dispute_id" TEXT NOT NULL,
    "checkout_session_id" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "status" TEXT NOT NULL,
    "stripe_status" TEXT NOT NULL,
    "amount_micro_usd" BIGINT NOT NULL,
    -- The pack's tokens the disputed amount stands for (all of them for a full dispute).
    "disputed_tokens" BIGINT NOT NULL,
    -- Taken out of the balance when the dispute opened.
    "held_tokens" BIGINT NOT NULL DEFAULT 0,
    -- Of the held tokens, those a refund of the same charge claimed while the dispute was open.
    "refunded_from_hold_tokens" BIGINT NOT NULL DEFAULT 0,
    -- Given back when the dispute was won.
    "released_tokens" BIGINT NOT NULL DEFAULT 0,
    -- Kept out when the dispute was lost (the rest of the hold, or taken then if nothing was held).
    "removed_tokens" BIGINT NOT NULL DEFAULT 0,
    "opened_event_id" TEXT,
    "closed_event_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "closed_at" TIMESTAMPTZ(3),
    CONSTRAINT "pack_disputes_pkey" PRIMARY KEY ("dispute_id"),
    CONSTRAINT "pack_disputes_checkout_session_id_fkey" FOREIGN KEY ("checkout_session_id") REFERENCES "pack_purchases"("checkout_session_id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "pack_disputes_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "pack_disputes_status_check" CHECK ("status" IN ('open', 'won', 'lost')),
    CONSTRAINT "pack_disputes_closed_check" CHECK (("status" = 'open') = ("closed_at" IS NULL)),
    CONSTRAINT "pack_disputes_tokens_bounded" CHECK (
        "amount_micro_usd" >= 0 AND "disputed_tokens" >= 0
        AND "held_tokens" >= 0 AND "held_tokens" <= "disputed_tokens"
        AND "refunded_from_hold_tokens" >= 0 AND "released_tokens" >= 0 AND "removed_tokens" >= 0
        AND "refunded_from_hold_tokens" + "released_tokens" + "removed_tokens" <= GREATEST("held_tokens", "removed_tokens")
        AND "removed_tokens" <= "disputed_tokens"),
    CONSTRAINT "pack_disputes_outcome_check" CHECK (
        ("status" <> 'won' OR "removed_tokens" = 0) AND ("status" <> 'lost' OR "released_tokens" = 0)
        AND ("status" <> 'open' OR ("released_tokens" = 0 AND "removed_tokens" = 0)))
);
CREATE INDEX "pack_disputes_checkout_session_id_idx" ON "pack_disputes"("checkout_session_id");
CREATE INDEX "pack_disputes_user_id_idx" ON "pack_disputes"("user_id");
