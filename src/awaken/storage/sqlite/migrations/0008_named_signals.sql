-- Named signals (ctx.signal / ctx.resolve_signal): a queue per (invocation, name). Row `ordinal`
-- pairs the ordinal-th signal of the name that arrived (`arrived`, its outcome) with the
-- ordinal-th SIGNAL entry that waits for one (`idx`), whichever comes first.
CREATE TABLE signals (
    invocation_id TEXT NOT NULL,
    name TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    idx INTEGER,
    arrived INTEGER NOT NULL DEFAULT 0,
    value BLOB,
    failure_code INTEGER,
    failure_message TEXT,
    PRIMARY KEY (invocation_id, name, ordinal)
) WITHOUT ROWID;

-- Whether an invocation has rows in `signals` (its purge deletes them; others skip that).
ALTER TABLE invocations ADD COLUMN has_signals INTEGER NOT NULL DEFAULT 0;
