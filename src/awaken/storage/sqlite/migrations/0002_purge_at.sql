-- A completed invocation's end of retention lives on its row (one UPDATE at completion) rather
-- than as a PURGE timer row (one more INSERT per invocation).
ALTER TABLE invocations ADD COLUMN purge_at INTEGER;

CREATE INDEX invocations_purge ON invocations (purge_at) WHERE purge_at IS NOT NULL;
