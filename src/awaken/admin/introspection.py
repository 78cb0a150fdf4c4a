"""The introspection tables of Restate's admin API (`sys_invocation`, `sys_journal`, `state`,
`sys_inbox`, `sys_service`, `sys_deployment`, ...) as rows built from the store's reads, for
`POST /query` (`awaken.admin.query`) to load into an in-memory SQLite database.

Columns are those Restate documents, with the values awaken has; a column awaken has no value
for is NULL. Times are RFC 3339 text in UTC with milliseconds (they sort as they compare), so
that a client reading them as timestamps parses them. Statuses are Restate's: `sys_invocation`
derives `pending`, `scheduled`, `ready`, `running`, `backing-off`, `suspended`, `paused`,
`completed` (awaken's own), `sys_invocation_status` keeps the stored ones (`inboxed`,
`scheduled`, `invoked`, `suspended`, `paused`, `completed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from awaken.admin.metadata import LOCAL_DEPLOYMENT_ID
from awaken.core.journal import Entry, EntryKind
from awaken.protocol.journal import describe
from awaken.storage.protocol import DeploymentRecord, InvocationRecord, StateRow, Status

if TYPE_CHECKING:
    from awaken.sdk.service import AnyService

# column types: what SQLite stores, and what the JSON and Arrow answers make of a value
TEXT, INT, BOOL, TIME, BLOB = "text", "int", "bool", "time", "blob"
Row = tuple[Any, ...]

_INVOCATION_COLUMNS: list[tuple[str, str]] = [
    ("id", TEXT),
    ("target", TEXT),
    ("target_service_name", TEXT),
    ("target_service_key", TEXT),
    ("target_handler_name", TEXT),
    ("target_service_ty", TEXT),
    ("idempotency_key", TEXT),
    ("invoked_by", TEXT),
    ("invoked_by_service_name", TEXT),
    ("invoked_by_id", TEXT),
    ("invoked_by_target", TEXT),
    ("invoked_by_subscription_id", TEXT),
    ("restarted_from", TEXT),
    ("pinned_deployment_id", TEXT),
    ("pinned_service_protocol_version", INT),
    ("trace_id", TEXT),
    ("journal_size", INT),
    ("journal_commands_size", INT),
    ("status", TEXT),
    ("created_at", TIME),
    ("modified_at", TIME),
    ("inboxed_at", TIME),
    ("scheduled_at", TIME),
    ("scheduled_start_at", TIME),
    ("running_at", TIME),
    ("completed_at", TIME),
    ("completion_retention", INT),
    ("journal_retention", INT),
    ("completion_result", TEXT),
    ("completion_failure", TEXT),
    ("in_flight", BOOL),
    ("retry_count", INT),
    ("last_start_at", TIME),
    ("next_retry_at", TIME),
    ("last_attempt_deployment_id", TEXT),
    ("last_attempt_server", TEXT),
    ("last_failure", TEXT),
    ("last_failure_error_code", TEXT),
    ("last_failure_related_entry_index", INT),
    ("last_failure_related_entry_name", TEXT),
    ("last_failure_related_entry_type", TEXT),
    ("last_failure_related_command_index", INT),
    ("last_failure_related_command_name", TEXT),
    ("last_failure_related_command_type", TEXT),
    ("suspended_waiting_future_json", TEXT),
]

TABLES: dict[str, list[tuple[str, str]]] = {
    "sys_invocation": _INVOCATION_COLUMNS,
    "sys_invocation_status": _INVOCATION_COLUMNS,
    "sys_invocation_state": [
        ("id", TEXT),
        ("in_flight", BOOL),
        ("retry_count", INT),
        ("last_start_at", TIME),
        ("next_retry_at", TIME),
        ("last_attempt_deployment_id", TEXT),
        ("last_attempt_server", TEXT),
        ("last_failure", TEXT),
        ("last_failure_error_code", TEXT),
        ("last_failure_related_entry_index", INT),
        ("last_failure_related_entry_name", TEXT),
        ("last_failure_related_entry_type", TEXT),
    ],
    "sys_journal": [
        ("id", TEXT),
        ("index", INT),
        ("entry_type", TEXT),
        ("name", TEXT),
        ("completed", BOOL),
        ("invoked_id", TEXT),
        ("invoked_target", TEXT),
        ("sleep_wakeup_at", TIME),
        ("promise_name", TEXT),
        ("raw", BLOB),
        ("version", INT),
        ("entry_json", TEXT),
        ("entry_lite_json", TEXT),
        ("appended_at", TIME),
    ],
    "state": [
        ("service_name", TEXT),
        ("service_key", TEXT),
        ("key", TEXT),
        ("value_utf8", TEXT),
        ("value", BLOB),
        ("value_length", INT),
        ("scope", TEXT),
    ],
    "sys_inbox": [
        ("id", TEXT),
        ("service_name", TEXT),
        ("service_key", TEXT),
        ("sequence_number", INT),
        ("created_at", TIME),
    ],
    "sys_keyed_service_status": [
        ("service_name", TEXT),
        ("service_key", TEXT),
        ("invocation_id", TEXT),
    ],
    "sys_service": [
        ("name", TEXT),
        ("revision", INT),
        ("public", BOOL),
        ("ty", TEXT),
        ("deployment_id", TEXT),
    ],
    "sys_deployment": [
        ("id", TEXT),
        ("ty", TEXT),
        ("endpoint", TEXT),
        ("created_at", TIME),
        ("min_service_protocol_version", INT),
        ("max_service_protocol_version", INT),
    ],
}

_SERVICE_TYPES = {"service": "service", "object": "virtual_object", "workflow": "workflow"}
# awaken's stored statuses as Restate stores them (sys_invocation_status)
_STORED_STATUS = {
    Status.PENDING: "inboxed",
    Status.SCHEDULED: "scheduled",
    Status.READY: "invoked",
    Status.RUNNING: "invoked",
    Status.BACKING_OFF: "invoked",
    Status.SUSPENDED: "suspended",
    Status.PAUSED: "paused",
    Status.COMPLETED: "completed",
}
# journal entries under the names of Restate's journal (version 1 rows)
_ENTRY_TYPES = {
    EntryKind.RUN: "Run",
    EntryKind.SLEEP: "Sleep",
    EntryKind.AWAKEABLE: "Awakeable",
    EntryKind.COMPLETE_AWAKEABLE: "CompleteAwakeable",
    EntryKind.GET_STATE: "GetState",
    EntryKind.SET_STATE: "SetState",
    EntryKind.CLEAR_STATE: "ClearState",
    EntryKind.CLEAR_ALL_STATE: "ClearAllState",
    EntryKind.STATE_KEYS: "GetStateKeys",
    EntryKind.CALL: "Call",
    EntryKind.SEND: "OneWayCall",
    EntryKind.WAIT: "GetInvocationOutput",
    EntryKind.CANCEL: "CancelInvocation",
    EntryKind.ATTACH: "AttachInvocation",
    EntryKind.GET_PROMISE: "GetPromise",
    EntryKind.PEEK_PROMISE: "PeekPromise",
    EntryKind.COMPLETE_PROMISE: "CompletePromise",
    EntryKind.CANCEL_SIGNAL: "Custom",
}


def time_text(ms: int | None) -> str | None:
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def target_of(service: str, key: str | None, handler: str) -> str:
    return "/".join(p for p in (service, key, handler) if p is not None)


@dataclass(frozen=True, slots=True)
class Catalog:
    """What the rows are built from besides the store: the services the engine knows, by name."""

    services: Mapping[str, AnyService]

    def service_type(self, record: InvocationRecord) -> str:
        svc = self.services.get(record.service)
        if svc is not None:
            return _SERVICE_TYPES[svc.service_kind]
        return "service" if record.key is None else "virtual_object"

    def exclusive(self, record: InvocationRecord) -> bool:
        svc = self.services.get(record.service)
        spec = None if svc is None else svc.handlers.get(record.handler)
        return spec is not None and spec.kind in ("exclusive", "workflow")


def _deployment_of(record: InvocationRecord) -> str | None:
    if record.deployment_id is not None:
        return record.deployment_id
    return LOCAL_DEPLOYMENT_ID if record.epoch > 0 else None


def invocation_rows(
    catalog: Catalog, records: Sequence[InvocationRecord], *, stored_status: bool
) -> list[Row]:
    by_id = {r.id: r for r in records}
    rows: list[Row] = []
    for r in records:
        status = _STORED_STATUS[r.status] if stored_status else r.status.value
        caller = None if r.caller is None else by_id.get(r.caller.invocation_id)
        deployment = _deployment_of(r)
        failure = None if r.outcome is None else r.outcome.failure
        in_flight = r.status is Status.RUNNING
        rows.append(
            (
                r.id,
                target_of(r.service, r.key, r.handler),
                r.service,
                r.key,
                r.handler,
                catalog.service_type(r),
                r.idempotency_key,
                "ingress" if r.caller is None else "service",
                None if caller is None else caller.service,
                None if r.caller is None else r.caller.invocation_id,
                None if caller is None else target_of(caller.service, caller.key, caller.handler),
                None,  # invoked_by_subscription_id
                None,  # restarted_from
                deployment,
                r.protocol_version,
                None,  # trace_id
                None,  # journal_size
                None,  # journal_commands_size
                status,
                time_text(r.created_at_ms),
                time_text(r.modified_at_ms),
                time_text(r.created_at_ms) if r.status is Status.PENDING else None,
                time_text(r.created_at_ms) if r.status is Status.SCHEDULED else None,
                time_text(r.run_at_ms) if r.status is Status.SCHEDULED else None,
                time_text(r.modified_at_ms) if in_flight else None,
                time_text(r.completed_at_ms),
                None,  # completion_retention
                None,  # journal_retention
                None if r.outcome is None else ("success" if r.outcome.ok else "failure"),
                None if failure is None else f"[{failure.code}] {failure.message}",
                in_flight,
                r.attempts,
                time_text(r.modified_at_ms) if in_flight else None,
                time_text(r.run_at_ms) if r.status is Status.BACKING_OFF else None,
                deployment,
                None,  # last_attempt_server
                r.last_failure,
                None if r.last_failure_code is None else str(r.last_failure_code),
                None,
                None,
                None,
                None,
                None,
                None,
                None,  # suspended_waiting_future_json
            )
        )
    return rows


def invocation_state_rows(records: Sequence[InvocationRecord]) -> list[Row]:
    """Invocations that have been invoked and have not completed."""
    invoked = (Status.READY, Status.RUNNING, Status.BACKING_OFF, Status.SUSPENDED, Status.PAUSED)
    return [
        (
            r.id,
            r.status is Status.RUNNING,
            r.attempts,
            time_text(r.modified_at_ms) if r.status is Status.RUNNING else None,
            time_text(r.run_at_ms) if r.status is Status.BACKING_OFF else None,
            _deployment_of(r),
            None,
            r.last_failure,
            None if r.last_failure_code is None else str(r.last_failure_code),
            None,
            None,
            None,
        )
        for r in records
        if r.status in invoked
    ]


def journal_rows(invocation_id: str, entries: Iterable[Entry]) -> list[Row]:
    """The journal's entries; of a remote invocation, its commands under their message names
    (`Run`, `Call`, `Sleep`, ...), the notifications that completed them being left out."""
    rows: list[Row] = []
    for e in entries:
        if e.kind is EntryKind.NOTIFICATION:
            continue
        entry_type = _ENTRY_TYPES.get(e.kind, "Custom")
        if e.kind is EntryKind.COMMAND:
            entry_type = str(describe(e).get("type") or "Command")
        data = e.data
        invoked_id = data.get("invocation_id") if e.kind in (EntryKind.CALL, EntryKind.SEND) else None
        wake_at = data.get("wake_at") if e.kind is EntryKind.SLEEP else None
        promise = e.name if e.kind in (EntryKind.GET_PROMISE, EntryKind.PEEK_PROMISE) else None
        rows.append(
            (
                invocation_id,
                e.index,
                entry_type,
                e.name or None,
                e.completed,
                invoked_id if isinstance(invoked_id, str) else None,
                (e.name or None) if invoked_id is not None else None,
                time_text(wake_at) if isinstance(wake_at, int) else None,
                promise,
                None,  # raw
                1,  # version: the journal as Restate's rows of version 1 describe it
                None,
                None,
                None,  # appended_at
            )
        )
    return rows


def state_rows(values: Iterable[StateRow]) -> list[Row]:
    rows: list[Row] = []
    for v in values:
        try:
            utf8: str | None = v.value.decode()
        except UnicodeDecodeError:
            utf8 = None
        rows.append((v.service, v.key, v.name, utf8, v.value, len(v.value), None))
    return rows


def inbox_rows(records: Sequence[InvocationRecord]) -> list[Row]:
    """Invocations queued behind a key's lock, in arrival order per key."""
    pending = sorted(
        (r for r in records if r.status is Status.PENDING), key=lambda r: (r.created_at_ms, r.id)
    )
    return [(r.id, r.service, r.key, n, time_text(r.created_at_ms)) for n, r in enumerate(pending)]


def keyed_status_rows(catalog: Catalog, records: Sequence[InvocationRecord]) -> list[Row]:
    """The invocation that holds each (service, key) lock: exclusive, started, not completed."""
    holding = (Status.READY, Status.RUNNING, Status.BACKING_OFF, Status.SUSPENDED, Status.PAUSED)
    return [
        (r.service, r.key, r.id)
        for r in records
        if r.key is not None and r.status in holding and catalog.exclusive(r)
    ]


def service_rows(catalog: Catalog) -> list[Row]:
    from awaken.sdk.service import RemoteService

    rows: list[Row] = []
    for svc in catalog.services.values():
        deployment = svc.deployment_id if isinstance(svc, RemoteService) else LOCAL_DEPLOYMENT_ID
        public = not svc.definition.ingress_private
        rows.append((svc.name, 1, public, _SERVICE_TYPES[svc.service_kind], deployment))
    return rows


def deployment_rows(records: Iterable[DeploymentRecord], local_created_at_ms: int | None) -> list[Row]:
    rows: list[Row] = []
    if local_created_at_ms is not None:
        rows.append((LOCAL_DEPLOYMENT_ID, "local", None, time_text(local_created_at_ms), None, None))
    for d in records:
        manifest = d.manifest
        rows.append(
            (
                d.id,
                "http",
                d.uri,
                time_text(d.created_at_ms),
                manifest.get("minProtocolVersion"),
                manifest.get("maxProtocolVersion"),
            )
        )
    return rows
