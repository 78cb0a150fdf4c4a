-- The full current schema of awaken's PostgreSQL store: what applying every file of migrations/
-- in order yields (a test compares the two structurally). Add a new migration, then mirror it here.
-- Times are integer milliseconds since the epoch (BIGINT), as in the SQLite dialect.

CREATE TABLE IF NOT EXISTS awaken_schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE invocations (
    id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    handler TEXT NOT NULL,
    key TEXT,
    exclusive BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    input BYTEA NOT NULL,
    headers TEXT NOT NULL,
    idempotency_key TEXT,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    run_at BIGINT,
    epoch BIGINT NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    has_outcome BOOLEAN NOT NULL DEFAULT FALSE,
    outcome_value BYTEA,
    failure_code INTEGER,
    failure_message TEXT,
    last_failure TEXT,
    caller_id TEXT,
    caller_index INTEGER,
    completed_at BIGINT,
    retention_ms BIGINT NOT NULL,
    inbox_seq BIGINT,
    waiting_on TEXT,
    purge_at BIGINT,
    has_waiters BOOLEAN NOT NULL DEFAULT FALSE,
    workflow_main BOOLEAN NOT NULL DEFAULT FALSE,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    owner TEXT,
    lease_until BIGINT,
    deployment_id TEXT,
    protocol_version INTEGER,
    protocol_id BYTEA,
    last_failure_code INTEGER,
    has_signals BOOLEAN NOT NULL DEFAULT FALSE,
    origin_node TEXT,
    watched BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX invocations_by_status ON invocations (status);

CREATE INDEX invocations_inbox ON invocations (service, key, inbox_seq) WHERE status = 'pending';

CREATE INDEX invocations_purge ON invocations (purge_at) WHERE purge_at IS NOT NULL;

CREATE INDEX invocations_by_created ON invocations (created_at, id);

CREATE UNIQUE INDEX invocations_by_protocol_id ON invocations (protocol_id) WHERE protocol_id IS NOT NULL;

CREATE SEQUENCE inbox_seq;

CREATE TABLE journal (
    invocation_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    payload BYTEA,
    has_outcome BOOLEAN NOT NULL DEFAULT FALSE,
    value BYTEA,
    failure_code INTEGER,
    failure_message TEXT,
    created_at BIGINT,
    completed_at BIGINT,
    completion_id INTEGER,
    signal_id INTEGER,
    signal_name TEXT,
    PRIMARY KEY (invocation_id, idx)
);

CREATE INDEX journal_by_completion_id ON journal (invocation_id, completion_id) WHERE completion_id IS NOT NULL;

CREATE TABLE state (
    service TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    value BYTEA NOT NULL,
    PRIMARY KEY (service, key, name)
);

CREATE TABLE locks (
    service TEXT NOT NULL,
    key TEXT NOT NULL,
    invocation_id TEXT NOT NULL,
    PRIMARY KEY (service, key)
);

CREATE TABLE waiters (
    invocation_id TEXT NOT NULL,
    caller_id TEXT NOT NULL,
    caller_index INTEGER NOT NULL,
    PRIMARY KEY (invocation_id, caller_id, caller_index)
);

CREATE TABLE awakeables (
    id TEXT PRIMARY KEY,
    invocation_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    service TEXT NOT NULL,
    handler TEXT NOT NULL,
    key TEXT,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deadline BIGINT,
    schema_json TEXT
);

CREATE INDEX awakeables_by_invocation ON awakeables (invocation_id, idx);

CREATE INDEX awakeables_by_status ON awakeables (status, created_at);

-- idx = -1 for invocation-level timers (retry, start).
CREATE TABLE timers (
    invocation_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    kind TEXT NOT NULL,
    fire_at BIGINT NOT NULL,
    PRIMARY KEY (invocation_id, idx, kind)
);

CREATE INDEX timers_by_fire_at ON timers (fire_at);

CREATE TABLE promises (
    service TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    value BYTEA,
    failure_code INTEGER,
    failure_message TEXT,
    completed_at BIGINT NOT NULL,
    PRIMARY KEY (service, key, name)
);

CREATE TABLE promise_waiters (
    service TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    invocation_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    PRIMARY KEY (service, key, name, invocation_id, idx)
);

CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    uri TEXT NOT NULL,
    http_version TEXT NOT NULL,
    protocol_mode TEXT NOT NULL,
    protocol_version INTEGER NOT NULL,
    manifest TEXT NOT NULL,
    additional_headers TEXT NOT NULL,
    sdk_version TEXT,
    created_at BIGINT NOT NULL
);

CREATE INDEX invocations_by_deployment ON invocations (deployment_id) WHERE deployment_id IS NOT NULL;

-- Named signals: row `ordinal` pairs the ordinal-th signal of a name that arrived for an
-- invocation with the ordinal-th SIGNAL entry of that name waiting for one (`idx`).
CREATE TABLE signals (
    invocation_id TEXT NOT NULL,
    name TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    idx INTEGER,
    arrived BOOLEAN NOT NULL DEFAULT FALSE,
    value BYTEA,
    failure_code INTEGER,
    failure_message TEXT,
    PRIMARY KEY (invocation_id, name, ordinal)
);
