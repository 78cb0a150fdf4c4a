-- Durable promises of workflows, by (workflow, key, name): completed once.
CREATE TABLE promises (
    service TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    value BLOB,
    failure_code INTEGER,
    failure_message TEXT,
    completed_at INTEGER NOT NULL,
    PRIMARY KEY (service, key, name)
) WITHOUT ROWID;

-- GET_PROMISE entries waiting for a promise that is not completed yet.
CREATE TABLE promise_waiters (
    service TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    invocation_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    PRIMARY KEY (service, key, name, invocation_id, idx)
) WITHOUT ROWID;

-- A workflow's main invocation: purging it (retention) clears its key's state and promises.
ALTER TABLE invocations ADD COLUMN workflow_main INTEGER NOT NULL DEFAULT 0;
