-- Every SQL statement of the PostgreSQL store, by name: the same names and named parameters as the
-- SQLite dialect (`:name`, turned into $1, $2... when loaded). The lifecycle rules run them by name.
--
-- Locks: `lock_*` queries take row locks (FOR UPDATE) that the rules rely on when several nodes
-- write at once; see awaken.storage.lifecycle for their order.

-- ---------------------------------------------------------------------------------------------
-- migrations (PostgreSQL only)

-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS awaken_schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL
)

-- name: applied_migrations
SELECT version FROM awaken_schema_migrations ORDER BY version

-- name: record_migration
INSERT INTO awaken_schema_migrations (version, name) VALUES (:version, :name)

-- name: migration_lock
-- Nodes that start together migrate one at a time (a session-level advisory lock).
SELECT pg_advisory_lock(7310353826021163519)

-- name: migration_unlock
SELECT pg_advisory_unlock(7310353826021163519)

-- name: notify
SELECT pg_notify(:channel, :payload)

-- =============================================================================================
-- The lifecycle queries (same names and parameters in every dialect)

-- ---------------------------------------------------------------------------------------------
-- invocations

-- name: create_invocation
INSERT INTO invocations (
    id, service, handler, key, exclusive, status, input, headers, idempotency_key,
    created_at, modified_at, run_at, epoch, attempts, has_outcome, caller_id, caller_index,
    retention_ms, inbox_seq, workflow_main, deployment_id, protocol_version, protocol_id, origin_node
) VALUES (
    :id, :service, :handler, :key, :exclusive, :status, :input, :headers, :idempotency_key,
    :now, :now, :run_at, 0, 0, FALSE, :caller_id, :caller_index,
    :retention_ms, NULL, :workflow_main, :deployment_id, :protocol_version, :protocol_id, :origin
)
ON CONFLICT (id) DO NOTHING

-- name: insert_running_invocation
-- The common path of create: a due invocation that needs no key lock starts right away.
INSERT INTO invocations (
    id, service, handler, key, exclusive, status, input, headers, idempotency_key,
    created_at, modified_at, run_at, epoch, attempts, has_outcome, caller_id, caller_index,
    retention_ms, inbox_seq, workflow_main, owner, lease_until, deployment_id, protocol_version,
    protocol_id, origin_node
) VALUES (
    :id, :service, :handler, :key, :exclusive, 'running', :input, :headers, :idempotency_key,
    :now, :now, NULL, 1, 0, FALSE, :caller_id, :caller_index,
    :retention_ms, NULL, :workflow_main, :node, :lease_until, :deployment_id, :protocol_version,
    :protocol_id, :origin
)
ON CONFLICT (id) DO NOTHING

-- name: get_invocation
SELECT * FROM invocations WHERE id = :id

-- name: lock_invocation
SELECT * FROM invocations WHERE id = :id FOR UPDATE

-- name: lock_invocation_skip_locked
SELECT * FROM invocations WHERE id = :id FOR UPDATE SKIP LOCKED

-- name: fence
-- The invocation, if the attempt at :epoch still owns it: touched (modified now), which also
-- locks it for the rest of the commit.
UPDATE invocations SET modified_at = :now
WHERE id = :id AND epoch = :epoch AND status = 'running'
RETURNING id, service, handler, key, exclusive, status, epoch, owner, caller_id, caller_index,
    retention_ms, has_waiters, cancel_requested, protocol_version, has_signals, origin_node, watched

-- name: complete_fenced
-- The common end of an attempt in one statement: if the attempt at :epoch still owns the
-- invocation, complete it (locking its row); the fence's columns of it.
UPDATE invocations
SET status = 'completed', has_outcome = TRUE, outcome_value = :value, failure_code = :failure_code,
    failure_message = :failure_message, completed_at = :now, modified_at = :now,
    waiting_on = NULL, inbox_seq = NULL, purge_at = :now + retention_ms, lease_until = NULL
WHERE id = :id AND epoch = :epoch AND status = 'running'
RETURNING id, service, handler, key, exclusive, status, epoch, owner, caller_id, caller_index,
    retention_ms, has_waiters, cancel_requested, protocol_version, has_signals, origin_node, watched

-- name: complete_fenced_with_entry
-- complete_fenced, and upsert_entry of the attempt's one new entry, in one statement (one round
-- trip instead of two): the entry is written only if the fence holds, and only into a local
-- handler's journal (the rules append a remote journal's entries themselves).
WITH done AS (
    UPDATE invocations
    SET status = 'completed', has_outcome = TRUE, outcome_value = :value, failure_code = :failure_code,
        failure_message = :failure_message, completed_at = :now, modified_at = :now,
        waiting_on = NULL, inbox_seq = NULL, purge_at = :now + retention_ms, lease_until = NULL
    WHERE id = :id AND epoch = :epoch AND status = 'running'
    RETURNING id, service, handler, key, exclusive, status, epoch, owner, caller_id, caller_index,
        retention_ms, has_waiters, cancel_requested, protocol_version, has_signals, origin_node, watched, origin_node, watched
), entry AS (
    INSERT INTO journal (
        invocation_id, idx, kind, name, data, payload, has_outcome, value, failure_code,
        failure_message, completion_id, signal_id, created_at, completed_at
    )
    SELECT done.id, CAST(:entry_idx AS INTEGER), CAST(:entry_kind AS TEXT), CAST(:entry_name AS TEXT),
        CAST(:entry_data AS TEXT), CAST(:entry_payload AS BYTEA), CAST(:entry_has_outcome AS BOOLEAN),
        CAST(:entry_value AS BYTEA), CAST(:entry_failure_code AS INTEGER),
        CAST(:entry_failure_message AS TEXT), CAST(:entry_completion_id AS INTEGER),
        CAST(:entry_signal_id AS INTEGER), CAST(:now AS BIGINT),
        CASE WHEN CAST(:entry_has_outcome AS BOOLEAN) THEN CAST(:now AS BIGINT) END
    FROM done WHERE done.protocol_version IS NULL
    ON CONFLICT (invocation_id, idx) DO UPDATE SET
        kind = excluded.kind,
        name = excluded.name,
        data = excluded.data,
        payload = excluded.payload,
        value = CASE WHEN journal.has_outcome THEN journal.value ELSE excluded.value END,
        failure_code = CASE WHEN journal.has_outcome THEN journal.failure_code ELSE excluded.failure_code END,
        failure_message = CASE
            WHEN journal.has_outcome THEN journal.failure_message ELSE excluded.failure_message
        END,
        completed_at = CASE WHEN journal.has_outcome THEN journal.completed_at ELSE excluded.completed_at END,
        has_outcome = journal.has_outcome OR excluded.has_outcome
)
SELECT * FROM done

-- name: watch_invocation
-- A node other than the one that created it waits on the invocation: every node is told when it
-- completes. No row: it has completed already (or does not exist).
UPDATE invocations SET watched = TRUE WHERE id = :id AND status <> 'completed'

-- name: get_fence_info
SELECT status, epoch FROM invocations WHERE id = :id

-- name: list_invocations
-- :statuses is an array of statuses, or NULL for any; :before_created/:before_id is the
-- (created_at, id) where the previous page ended (newest first).
SELECT * FROM invocations
WHERE (CAST(:statuses AS TEXT[]) IS NULL OR status = ANY(CAST(:statuses AS TEXT[])))
    AND (CAST(:service AS TEXT) IS NULL OR service = :service)
    AND (CAST(:handler AS TEXT) IS NULL OR handler = :handler)
    AND (CAST(:key AS TEXT) IS NULL OR key = :key)
    AND (CAST(:created_after AS BIGINT) IS NULL OR created_at >= :created_after)
    AND (CAST(:created_before AS BIGINT) IS NULL OR created_at < :created_before)
    AND (CAST(:before_created AS BIGINT) IS NULL OR created_at < :before_created
        OR (created_at = :before_created AND id < :before_id))
ORDER BY created_at DESC, id DESC
LIMIT :limit

-- name: count_invocations_by_status
SELECT status, COUNT(*) FROM invocations GROUP BY status

-- name: count_matching_invocations
SELECT status, COUNT(*) FROM invocations
WHERE (CAST(:service AS TEXT) IS NULL OR service = :service)
    AND (CAST(:handler AS TEXT) IS NULL OR handler = :handler)
    AND (CAST(:key AS TEXT) IS NULL OR key = :key)
    AND (CAST(:created_after AS BIGINT) IS NULL OR created_at >= :created_after)
    AND (CAST(:created_before AS BIGINT) IS NULL OR created_at < :created_before)
GROUP BY status

-- name: get_outcomes
SELECT id, has_outcome, outcome_value, failure_code, failure_message FROM invocations
WHERE id = ANY(CAST(:ids AS TEXT[]))

-- name: orphaned_invocations
-- Ready invocations, and running ones whose lease has expired; with :everything (one node, at
-- start-up) every running one but those this node claimed already. Rows another node is
-- claiming right now are skipped.
SELECT id FROM invocations
WHERE status = 'ready'
    OR (status = 'running' AND owner IS DISTINCT FROM :node
        AND (CAST(:everything AS BOOLEAN) OR lease_until IS NULL OR lease_until < :now))
ORDER BY created_at, id
LIMIT :limit
FOR UPDATE SKIP LOCKED

-- name: claim_invocation
UPDATE invocations
SET status = 'running', epoch = epoch + 1, owner = :node, lease_until = :lease_until,
    modified_at = :now, waiting_on = NULL, inbox_seq = NULL
WHERE id = :id
RETURNING *

-- name: renew_leases
-- In id order, skipping rows another transaction holds: a renewal never waits on a lock.
UPDATE invocations SET lease_until = :lease_until
WHERE id IN (
    SELECT id FROM invocations
    WHERE id = ANY(CAST(:ids AS TEXT[])) AND owner = :node AND status = 'running'
    ORDER BY id
    FOR UPDATE SKIP LOCKED
)
RETURNING id

-- name: owned_running
SELECT id FROM invocations WHERE id = ANY(CAST(:ids AS TEXT[])) AND owner = :node AND status = 'running'

-- name: set_pending
UPDATE invocations SET status = 'pending', inbox_seq = :inbox_seq, modified_at = :now WHERE id = :id

-- name: suspend_invocation
UPDATE invocations
SET status = 'suspended', waiting_on = :waiting_on, modified_at = :now, lease_until = NULL
WHERE id = :id

-- name: back_off_invocation
UPDATE invocations
SET status = 'backing-off', attempts = attempts + 1, last_failure = :failure, run_at = :run_at,
    modified_at = :now, lease_until = NULL
WHERE id = :id

-- name: pause_invocation
UPDATE invocations
SET status = 'paused', attempts = attempts + 1, last_failure = :failure, modified_at = :now,
    lease_until = NULL
WHERE id = :id

-- name: complete_invocation
UPDATE invocations
SET status = 'completed', has_outcome = TRUE, outcome_value = :value, failure_code = :failure_code,
    failure_message = :failure_message, completed_at = :now, modified_at = :now,
    waiting_on = NULL, inbox_seq = NULL, purge_at = :purge_at, lease_until = NULL
WHERE id = :id

-- name: delete_invocation
DELETE FROM invocations WHERE id = :id

-- ---------------------------------------------------------------------------------------------
-- virtual object locks and inboxes

-- name: acquire_key
-- Take the key's lock for :id if it is free; the holder after the statement (:id if taken). On a
-- held key this locks its row, so the holder's release waits for this transaction.
INSERT INTO locks (service, key, invocation_id) VALUES (:service, :key, :id)
ON CONFLICT (service, key) DO UPDATE SET invocation_id = locks.invocation_id
RETURNING invocation_id

-- name: lock_key
SELECT invocation_id FROM locks WHERE service = :service AND key = :key FOR UPDATE

-- name: pass_key
UPDATE locks SET invocation_id = :id WHERE service = :service AND key = :key

-- name: free_key
DELETE FROM locks WHERE service = :service AND key = :key AND invocation_id = :id

-- name: key_lock_holder
SELECT invocation_id FROM locks WHERE service = :service AND key = :key

-- name: next_inbox_seq
-- A sequence: concurrent creates on several nodes get distinct, increasing numbers (the SQLite
-- dialect numbers per key from :service and :key; one writer makes that safe there).
SELECT nextval('inbox_seq')

-- name: next_pending
SELECT id FROM invocations
WHERE service = :service AND key = :key AND status = 'pending'
ORDER BY inbox_seq
LIMIT 1

-- ---------------------------------------------------------------------------------------------
-- callers attached to an existing invocation

-- name: add_waiter
INSERT INTO waiters (invocation_id, caller_id, caller_index)
VALUES (:id, :caller_id, :caller_index)
ON CONFLICT DO NOTHING

-- name: flag_waiters
UPDATE invocations SET has_waiters = TRUE WHERE id = :id

-- name: take_waiters
DELETE FROM waiters WHERE invocation_id = :id RETURNING caller_id, caller_index

-- name: delete_waiters
DELETE FROM waiters WHERE invocation_id = :id

-- ---------------------------------------------------------------------------------------------
-- journal

-- name: get_journal
SELECT * FROM journal WHERE invocation_id = :id ORDER BY idx

-- name: get_journal_times
SELECT idx, created_at, completed_at FROM journal WHERE invocation_id = :id ORDER BY idx

-- name: get_entry
SELECT * FROM journal WHERE invocation_id = :id AND idx = :idx

-- name: journal_length
SELECT COALESCE(MAX(idx), -1) + 1 FROM journal WHERE invocation_id = :id

-- name: get_notification
-- A notification of a remote invocation, by completion id, or (:signal_id) by signal index.
SELECT * FROM journal
WHERE invocation_id = :id AND kind = 'notification'
    AND ((CAST(:completion_id AS INTEGER) IS NOT NULL AND completion_id = :completion_id)
        OR (CAST(:signal_id AS INTEGER) IS NOT NULL AND signal_id = :signal_id))
LIMIT 1

-- name: get_invocation_by_protocol_id
SELECT * FROM invocations WHERE protocol_id = :protocol_id

-- name: get_completed_entry
SELECT 1 FROM journal WHERE invocation_id = :id AND idx = :idx AND has_outcome

-- name: upsert_entry
-- A stored outcome is never replaced: completions from outside win over a stale in-memory copy.
INSERT INTO journal (
    invocation_id, idx, kind, name, data, payload, has_outcome, value, failure_code,
    failure_message, completion_id, signal_id, created_at, completed_at
) VALUES (
    :id, :idx, :kind, :name, :data, :payload, :has_outcome, :value, :failure_code,
    :failure_message, :completion_id, :signal_id, :now, CASE WHEN CAST(:has_outcome AS BOOLEAN) THEN CAST(:now AS BIGINT) END
)
ON CONFLICT (invocation_id, idx) DO UPDATE SET
    kind = excluded.kind,
    name = excluded.name,
    data = excluded.data,
    payload = excluded.payload,
    value = CASE WHEN journal.has_outcome THEN journal.value ELSE excluded.value END,
    failure_code = CASE WHEN journal.has_outcome THEN journal.failure_code ELSE excluded.failure_code END,
    failure_message = CASE
        WHEN journal.has_outcome THEN journal.failure_message ELSE excluded.failure_message
    END,
    completed_at = CASE WHEN journal.has_outcome THEN journal.completed_at ELSE excluded.completed_at END,
    has_outcome = journal.has_outcome OR excluded.has_outcome

-- name: complete_entry
UPDATE journal
SET has_outcome = TRUE, value = :value, failure_code = :failure_code,
    failure_message = :failure_message, completed_at = :now
WHERE invocation_id = :id AND idx = :idx AND NOT has_outcome

-- name: capture_state_read
-- A GET_STATE entry stored as a reference gets a copy of the value it read, before a state write
-- of the same commit overwrites it (copied in the database: the value never travels).
UPDATE journal
SET value = (SELECT value FROM state WHERE service = :service AND key = :key AND name = :name),
    data = '{}'
WHERE invocation_id = :id AND idx = :idx

-- name: delete_journal
DELETE FROM journal WHERE invocation_id = :id

-- ---------------------------------------------------------------------------------------------
-- state

-- name: get_state
SELECT name, value FROM state WHERE service = :service AND key = :key ORDER BY name

-- name: get_eager_state
-- Values up to :max bytes; the names alone of larger ones (their value is NULL here).
SELECT name, CASE WHEN length(value) <= CAST(:max AS INTEGER) THEN value END AS value
FROM state WHERE service = :service AND key = :key ORDER BY name

-- name: list_state
-- Values of every (service, key), or of one service or key (NULL: any), for the admin API's
-- `state` table.
SELECT service, key, name, value FROM state
WHERE (CAST(:service AS TEXT) IS NULL OR service = :service) AND (CAST(:key AS TEXT) IS NULL OR key = :key)
ORDER BY service, key, name
LIMIT :limit

-- name: get_state_value
SELECT value FROM state WHERE service = :service AND key = :key AND name = :name

-- name: set_state
INSERT INTO state (service, key, name, value) VALUES (:service, :key, :name, :value)
ON CONFLICT (service, key, name) DO UPDATE SET value = excluded.value

-- name: clear_state
DELETE FROM state WHERE service = :service AND key = :key AND name = :name

-- name: clear_all_state
DELETE FROM state WHERE service = :service AND key = :key

-- ---------------------------------------------------------------------------------------------
-- awakeables

-- name: create_awakeable
INSERT INTO awakeables (
    id, invocation_id, idx, service, handler, key, status, created_at, deadline, schema_json
) VALUES (
    :id, :invocation_id, :idx, :service, :handler, :key, 'pending', :now, :deadline, :schema_json
)

-- name: note_awakeable
-- one that a remote handler's suspension waits on (named again by each suspension)
INSERT INTO awakeables (
    id, invocation_id, idx, service, handler, key, status, created_at, deadline, schema_json
) VALUES (
    :id, :invocation_id, :idx, :service, :handler, :key, 'pending', :now, :deadline, :schema_json
) ON CONFLICT (id) DO NOTHING

-- name: lock_invocation_of_awakeable
SELECT * FROM invocations
WHERE id = (SELECT invocation_id FROM awakeables WHERE id = :id)
FOR UPDATE

-- name: get_awakeable_invocation
SELECT invocation_id FROM awakeables WHERE id = :id

-- name: get_awakeable
SELECT * FROM awakeables WHERE id = :id

-- name: get_awakeable_by_entry
SELECT * FROM awakeables WHERE invocation_id = :invocation_id AND idx = :idx

-- name: set_awakeable_status
UPDATE awakeables SET status = :status WHERE id = :id

-- name: close_awakeables
UPDATE awakeables SET status = 'closed' WHERE invocation_id = :id AND status = 'pending'

-- name: list_pending_awakeables
SELECT * FROM awakeables WHERE status = 'pending' ORDER BY created_at, id LIMIT :limit

-- name: delete_awakeables
DELETE FROM awakeables WHERE invocation_id = :id

-- ---------------------------------------------------------------------------------------------
-- timers

-- name: upsert_timer
INSERT INTO timers (invocation_id, idx, kind, fire_at) VALUES (:id, :idx, :kind, :fire_at)
ON CONFLICT (invocation_id, idx, kind) DO UPDATE SET fire_at = excluded.fire_at

-- name: delete_timer
DELETE FROM timers WHERE invocation_id = :id AND idx = :idx AND kind = :kind

-- name: delete_invocation_timers
DELETE FROM timers WHERE invocation_id = :id

-- name: due_timers
SELECT invocation_id, idx, kind, fire_at FROM timers
WHERE fire_at <= :now
ORDER BY fire_at, invocation_id, idx
LIMIT :limit

-- name: due_purges
SELECT id FROM invocations WHERE purge_at IS NOT NULL AND purge_at <= :now
ORDER BY purge_at LIMIT :limit

-- name: next_timer
SELECT LEAST(
    (SELECT MIN(fire_at) FROM timers),
    (SELECT MIN(purge_at) FROM invocations WHERE purge_at IS NOT NULL)
)

-- ---------------------------------------------------------------------------------------------
-- workflow promises

-- name: lock_promise
-- A promise may not exist yet: a transaction-level advisory lock on its name stands for its row.
SELECT pg_advisory_xact_lock(
    hashtextextended(CAST(:service AS TEXT) || '/' || CAST(:key AS TEXT) || '/' || CAST(:name AS TEXT), 0)
)

-- name: get_promise
SELECT value, failure_code, failure_message FROM promises
WHERE service = :service AND key = :key AND name = :name

-- name: complete_promise
INSERT INTO promises (service, key, name, value, failure_code, failure_message, completed_at)
VALUES (:service, :key, :name, :value, :failure_code, :failure_message, :now)
ON CONFLICT (service, key, name) DO NOTHING

-- name: add_promise_waiter
INSERT INTO promise_waiters (service, key, name, invocation_id, idx)
VALUES (:service, :key, :name, :id, :idx)
ON CONFLICT DO NOTHING

-- name: take_promise_waiters
DELETE FROM promise_waiters WHERE service = :service AND key = :key AND name = :name
RETURNING invocation_id, idx

-- name: get_purge_info
SELECT service, key, workflow_main, has_signals FROM invocations WHERE id = :id

-- name: delete_key_promises
DELETE FROM promises WHERE service = :service AND key = :key

-- name: delete_key_promise_waiters
DELETE FROM promise_waiters WHERE service = :service AND key = :key

-- ---------------------------------------------------------------------------------------------
-- named signals (a queue per invocation and name: row `ordinal` pairs the ordinal-th signal that
-- arrived with the ordinal-th SIGNAL entry that waits for one, whichever comes first)

-- name: await_signal
INSERT INTO signals (invocation_id, name, ordinal, idx, arrived)
VALUES (:id, :name, :ordinal, :idx, FALSE)
ON CONFLICT (invocation_id, name, ordinal) DO UPDATE SET idx = excluded.idx
RETURNING arrived, value, failure_code, failure_message

-- name: send_signal
-- The next ordinal of the name among the signals that arrived; the entry waiting for it, if any.
INSERT INTO signals (invocation_id, name, ordinal, idx, arrived, value, failure_code, failure_message)
VALUES (
    :id, :name,
    (SELECT COALESCE(MAX(ordinal), 0) + 1 FROM signals WHERE invocation_id = :id AND name = :name AND arrived),
    NULL, TRUE, :value, :failure_code, :failure_message
)
ON CONFLICT (invocation_id, name, ordinal) DO UPDATE
SET arrived = TRUE, value = excluded.value, failure_code = excluded.failure_code,
    failure_message = excluded.failure_message
RETURNING idx

-- name: flag_signals
UPDATE invocations SET has_signals = TRUE WHERE id = :id

-- name: delete_signals
DELETE FROM signals WHERE invocation_id = :id

-- ---------------------------------------------------------------------------------------------
-- cancellation, pause, resume

-- name: request_cancel
UPDATE invocations SET cancel_requested = TRUE, modified_at = :now WHERE id = :id

-- name: clear_cancel
UPDATE invocations SET cancel_requested = FALSE WHERE id = :id

-- name: pending_children
-- The invocations a running one called and still waits on (cancelled or killed with it).
SELECT CAST(data AS JSONB) ->> 'invocation_id' FROM journal
WHERE invocation_id = :id AND kind = 'call' AND NOT has_outcome

-- name: resume_paused
UPDATE invocations SET status = 'ready', attempts = 0, modified_at = :now
WHERE id = :id AND status = 'paused'

-- name: pause_by_hand
-- A new epoch fences out the attempt that may be running; the key lock stays taken.
UPDATE invocations
SET status = 'paused', epoch = epoch + 1, last_failure = 'paused by hand', waiting_on = NULL,
    modified_at = :now, lease_until = NULL
WHERE id = :id AND status IN ('running', 'suspended', 'backing-off')

-- ---------------------------------------------------------------------------------------------
-- deployments (handlers served elsewhere)

-- name: put_deployment
INSERT INTO deployments (
    id, uri, http_version, protocol_mode, protocol_version, manifest, additional_headers,
    sdk_version, created_at
) VALUES (
    :id, :uri, :http_version, :protocol_mode, :protocol_version, :manifest, :additional_headers,
    :sdk_version, :now
)
ON CONFLICT (id) DO UPDATE SET
    uri = excluded.uri,
    http_version = excluded.http_version,
    protocol_mode = excluded.protocol_mode,
    protocol_version = excluded.protocol_version,
    manifest = excluded.manifest,
    additional_headers = excluded.additional_headers,
    sdk_version = excluded.sdk_version

-- name: list_deployments
SELECT * FROM deployments ORDER BY created_at, id

-- name: delete_deployment
DELETE FROM deployments WHERE id = :id

-- name: pinned_invocations
-- Invocations pinned to a deployment that have not completed yet.
SELECT COUNT(*) FROM invocations WHERE deployment_id = :id AND status <> 'completed'
