-- Ownership of attempts (the node that runs one and its lease), and what handlers served through
-- Restate's service protocol need: the deployment an invocation is pinned to, the random id sent
-- as StartMessage.id, and journal rows addressed by completion id or signal. Journal rows also
-- get the times they were written and completed (the timeline of an invocation).
ALTER TABLE invocations ADD COLUMN owner TEXT;
ALTER TABLE invocations ADD COLUMN lease_until INTEGER;
ALTER TABLE invocations ADD COLUMN deployment_id TEXT;
ALTER TABLE invocations ADD COLUMN protocol_version INTEGER;
ALTER TABLE invocations ADD COLUMN protocol_id BLOB;
ALTER TABLE invocations ADD COLUMN last_failure_code INTEGER;

CREATE UNIQUE INDEX invocations_by_protocol_id ON invocations (protocol_id) WHERE protocol_id IS NOT NULL;

ALTER TABLE journal ADD COLUMN created_at INTEGER;
ALTER TABLE journal ADD COLUMN completed_at INTEGER;
ALTER TABLE journal ADD COLUMN completion_id INTEGER;
ALTER TABLE journal ADD COLUMN signal_id INTEGER;
ALTER TABLE journal ADD COLUMN signal_name TEXT;

CREATE INDEX journal_by_completion_id ON journal (invocation_id, completion_id) WHERE completion_id IS NOT NULL;
