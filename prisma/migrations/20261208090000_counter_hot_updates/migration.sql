-- Quota counters are updated about fourteen times per metered chat (the reservation takes
-- each limit, the settlement gives back what was not used). The upgrade-candidates index
-- (migration 20261123050000_insight) had `used` in it, so not one of those updates could be
-- a HOT update (one that writes no index entry, on the same page): every one wrote two
-- index entries, the primary key's and this one's. Indexed on (kind, period_start) only,
-- with room left in each page, the counters are updated in place instead (issue 17: in a
-- scratch database, 0 of 26,000 counter updates were HOT before, 91 % after, and Postgres
-- spent 0.2-0.5 ms less per reservation and settlement). The admin overview's upgrade
-- candidates still find the kind and period through the index and filter `used` there.
DROP INDEX IF EXISTS "quota_counters_kind_period_start_used_idx";
CREATE INDEX "quota_counters_kind_period_start_idx" ON "quota_counters"("kind", "period_start");
ALTER TABLE "quota_counters" SET (fillfactor = 70);
