-- The credit ledger refuses TRUNCATE as well as UPDATE and DELETE, like the audit
-- log (migration 20261123050000_insight): TRUNCATE fires no row trigger, so the
-- append-only rule of 20261123010000_metering did not cover it. A table's owner
-- can still disable triggers or drop the table; docs/deployment.md shows how to
-- run the app as a database role that owns nothing, so it cannot.
CREATE TRIGGER "credit_ledger_no_truncate" BEFORE TRUNCATE ON "credit_ledger"
    FOR EACH STATEMENT EXECUTE FUNCTION "refuse_ledger_change"();
