-- Completing an invocation looks for extra waiters (attached callers) only when it has some.
ALTER TABLE invocations ADD COLUMN has_waiters INTEGER NOT NULL DEFAULT 0;

UPDATE invocations SET has_waiters = 1 WHERE id IN (SELECT invocation_id FROM waiters);

-- The inbox index serves the pending queue of a key only: keeping every running and completed
-- invocation in it cost two index writes per invocation for nothing.
DROP INDEX invocations_inbox;

CREATE INDEX invocations_inbox ON invocations (service, key, inbox_seq) WHERE status = 'pending';
