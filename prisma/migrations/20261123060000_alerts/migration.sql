-- Alerts (docs/architecture.md, "Alerts"): in-app notifications when a user
-- reaches 80, 90 and 100 % of a quota, the user's alert e-mail preference, and
-- service-wide alerts for the admins. Each alert fires once per period however
-- many server instances run: the unique key decides, and only the instance whose
-- INSERT ... ON CONFLICT DO NOTHING inserted the row sends the e-mail.

CREATE TABLE "notifications" (
    "id" BIGSERIAL NOT NULL,
    "user_id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "threshold" INTEGER NOT NULL,
    "period_key" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "read_at" TIMESTAMPTZ(3),
    "emailed_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "notifications_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "notifications_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "notifications_threshold_check" CHECK ("threshold" BETWEEN 0 AND 100)
);
CREATE UNIQUE INDEX "notifications_user_id_kind_threshold_period_key_key" ON "notifications"("user_id", "kind", "threshold", "period_key");
CREATE INDEX "notifications_user_id_id_idx" ON "notifications"("user_id", "id");
-- The bell's count reads only unread rows.
CREATE INDEX "notifications_unread_idx" ON "notifications"("user_id") WHERE "read_at" IS NULL;

CREATE TABLE "user_preferences" (
    "user_id" UUID NOT NULL,
    "alert_emails" BOOLEAN NOT NULL DEFAULT true,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "user_preferences_pkey" PRIMARY KEY ("user_id"),
    CONSTRAINT "user_preferences_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- subject: 'global', 'user:<uuid>' or 'ip:<hash>'.
CREATE TABLE "service_alerts" (
    "id" BIGSERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "threshold" INTEGER NOT NULL DEFAULT 0,
    "period_key" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "details" JSONB NOT NULL DEFAULT '{}',
    "emails_sent" INTEGER NOT NULL DEFAULT 0,
    "webhook_status" INTEGER,
    "delivered_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "service_alerts_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "service_alerts_kind_subject_threshold_period_key_key" ON "service_alerts"("kind", "subject", "threshold", "period_key");
CREATE INDEX "service_alerts_created_at_idx" ON "service_alerts"("created_at");

-- Spend velocity per client IP reads the last hour and the trailing week of one ip_hash.
CREATE INDEX "usage_events_ip_hash_created_at_idx" ON "usage_events"("ip_hash", "created_at");
