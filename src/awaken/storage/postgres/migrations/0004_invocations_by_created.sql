-- The list of invocations (admin API, CLI, web UI) is newest first, paged by (created_at, id): an
-- index in that order answers a page without sorting every row.
CREATE INDEX invocations_by_created ON invocations (created_at, id);
