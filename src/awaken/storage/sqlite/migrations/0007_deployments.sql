-- Deployments: handlers served elsewhere, registered by URI and discovered through Restate's
-- service protocol (the manifest as discovered, and how to reach the endpoint).
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
