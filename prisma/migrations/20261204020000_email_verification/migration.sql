-- E-mail verification (issue 11). A password account starts unverified and is
-- held to the guest plan's limits until it follows the link mailed to it
-- (EMAIL_VERIFICATION=required); a magic-link sign-in verifies by itself.
ALTER TABLE "users" ADD COLUMN "email_verified_at" TIMESTAMPTZ(3);

-- Accounts that exist now predate the rule: they count as verified from the
-- moment it began (guests have no address; tombstones of deleted accounts
-- have none either).
UPDATE "users" SET "email_verified_at" = CURRENT_TIMESTAMP
 WHERE NOT "is_guest" AND "email" IS NOT NULL AND "deleted_at" IS NULL;

-- Verification links: like magic links, only a SHA-256 of the token is kept;
-- single use (a conditional update flips used_at) and an expiry. `email` is the
-- address the link was sent to: the link proves that address, nothing else.
CREATE TABLE "email_verification_tokens" (
    "token_hash" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "email" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "email_verification_tokens_pkey" PRIMARY KEY ("token_hash"),
    CONSTRAINT "email_verification_tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX "email_verification_tokens_user_id_idx" ON "email_verification_tokens"("user_id");
