-- A cancellation asked for a running or suspended invocation, not yet delivered to its handler
-- (the handler journals a CANCEL_SIGNAL entry where it raised it; that clears the flag).
ALTER TABLE invocations ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
