-- The full current schema of awaken's SQLite store: what applying every file of migrations/ in
-- order yields (a test compares the two structurally). Add a new migration, then mirror it here.

CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE invocations (
    id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    handler TEXT NOT NULL,
    key TEXT,
    exclusive INTEGER NOT NULL,
    status TEXT NOT NULL,
    input BLOB NOT NULL,
    headers TEXT NOT NULL,
    idempotency_key TEXT,
    created_at INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    run_at INTEGER,
    epoch INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    has_outcome INTEGER NOT NULL DEFAULT 0,
    outcome_value BLOB,
    failure_code INTEGER,
    failure_message TEXT,
    last_failure TEXT,
    caller_id TEXT,
    caller_index INTEGER,
    completed_at INTEGER,
    retention_ms INTEGER NOT NULL,
    inbox_seq INTEGER,
    waiting_on TEXT,
    purge_at INTEGER,
    has_waiters INTEGER NOT NULL DEFAULT 0,
    workflow_main INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until INTEGER,
    deployment_id TEXT,
    protocol_version INTEGER,
    protocol_id BLOB,
    last_failure_code INTEGER,
    has_signals INTEGER NOT NULL DEFAULT 0,
    origin_node TEXT,
    watched INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX invocations_by_status ON invocations (status);

CREATE INDEX invocations_inbox ON invocations (service, key, inbox_seq) WHERE status = 'pending';

CREATE INDEX invocations_purge ON invocations (purge_at) WHERE purge_at IS NOT NULL;

CREATE INDEX invocations_by_created ON invocations (created_at, id);

CREATE UNIQUE INDEX invocations_by_protocol_id ON invocations (protocol_id) WHERE protocol_id IS NOT NULL;

CREATE TABLE journal (
    invocation_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    payload BLOB,
    has_outcome INTEGER NOT NULL DEFAULT 0,
    value BLOB,
    failure_code INTEGER,
    failure_message TEXT,
    created_at INTEGER,
    completed_at INTEGER,
    completion_id INTEGER,
    signal_id INTEGER,
    signal_name TEXT,
    PRIMARY KEY (invocation_id, idx)
) WITHOUT ROWID;

CREATE INDEX journal_by_completion_id ON journal (invocation_id, completion_id) WHERE completion_id IS NOT NULL;

CREATE TABLE state (
    service TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (service, key, name)
) WITHOUT ROWID;

CREATE TABLE locks (
    service TEXT NOT NULL,
    key TEXT NOT NULL,
    invocation_id TEXT NOT NULL,
    PRIMARY KEY (service, key)
) WITHOUT ROWID;

-- Callers attached to an invocation that already had one (same idempotency key / workflow key):
-- completed alongside invocations.caller_id when the invocation completes.
CREATE TABLE waiters (
    invocation_id TEXT NOT NULL,
    caller_id TEXT NOT NULL,
    caller_index INTEGER NOT NULL,
    PRIMARY KEY (invocation_id, caller_id, caller_index)
) WITHOUT ROWID;

CREATE TABLE awakeables (
    id TEXT PRIMARY KEY,
    invocation_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    service TEXT NOT NULL,
    handler TEXT NOT NULL,
    key TEXT,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    deadline INTEGER,
    schema_json TEXT
);

CREATE INDEX awakeables_by_invocation ON awakeables (invocation_id, idx);

CREATE INDEX awakeables_by_status ON awakeables (status, created_at);

-- idx = -1 for invocation-level timers (retry, start, purge).
CREATE TABLE timers (
    invocation_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    kind TEXT NOT NULL,
    fire_at INTEGER NOT NULL,
    PRIMARY KEY (invocation_id, idx, kind)
) WITHOUT ROWID;

CREATE INDEX timers_by_fire_at ON timers (fire_at);

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

CREATE TABLE promise_waiters (
    service TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    invocation_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    PRIMARY KEY (service, key, name, invocation_id, idx)
) WITHOUT ROWID;

CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    uri TEXT NOT NULL,
    http_version TEXT NOT NULL,
    protocol_mode TEXT NOT NULL,
    protocol_version INTEGER NOT NULL,
    manifest TEXT NOT NULL,
    additional_headers TEXT NOT NULL,
    sdk_version TEXT,
    created_at INTEGER NOT NULL
);

CREATE INDEX invocations_by_deployment ON invocations (deployment_id) WHERE deployment_id IS NOT NULL;

-- Named signals: row `ordinal` pairs the ordinal-th signal of a name that arrived for an
-- invocation with the ordinal-th SIGNAL entry of that name waiting for one (`idx`).
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
