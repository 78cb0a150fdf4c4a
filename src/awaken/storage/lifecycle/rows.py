"""Codecs between result rows (of either dialect) and the storage dataclasses.

SQLite gives flags as 0/1 and blobs as bytes; PostgreSQL gives booleans and bytes: the codecs
accept both. JSON columns are text in both dialects.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic_core

from awaken.core.journal import Entry, EntryKind, Failure, Outcome
from awaken.storage.lifecycle.op import Row
from awaken.storage.protocol import (
    AwakeableInfo,
    AwakeableStatus,
    EntryRef,
    InvocationRecord,
    Status,
)


def dump_json(value: Any) -> str:
    if not value and isinstance(value, dict):
        return "{}"  # most entries carry no data
    return pydantic_core.to_json(value).decode()  # compact UTF-8 JSON, faster than json.dumps


def outcome_params(outcome: Outcome | None) -> dict[str, Any]:
    """The has_outcome / value / failure_code / failure_message parameters of an outcome."""
    if outcome is None:
        return {"has_outcome": False, "value": None, "failure_code": None, "failure_message": None}
    failure = outcome.failure
    if failure is None:
        return {"has_outcome": True, "value": outcome.value, "failure_code": None, "failure_message": None}
    return {
        "has_outcome": True,
        "value": None,
        "failure_code": failure.code,
        "failure_message": failure.message,
    }


def _outcome(has_outcome: Any, value: Any, code: Any, message: Any) -> Outcome | None:
    if not has_outcome:
        return None
    if code is not None:
        return Outcome(None, Failure(int(code), str(message or "")))
    return Outcome(None if value is None else bytes(value))


def entry_params(invocation_id: str, entry: Entry, now: int, index: int | None = None) -> dict[str, Any]:
    """The row of an entry (at `index`, if the store assigns it: a remote journal's append)."""
    notification = entry.kind is EntryKind.NOTIFICATION
    return {
        "id": invocation_id,
        "idx": entry.index if index is None else index,
        "kind": entry.kind.value,
        "name": entry.name,
        "data": dump_json(entry.data),
        "payload": entry.payload,
        "now": now,
        "completion_id": entry.data.get("c") if notification else None,
        "signal_id": entry.data.get("s") if notification else None,
        **outcome_params(entry.outcome),
    }


def entry_from_row(row: Row) -> Entry:
    return Entry(
        index=int(row["idx"]),
        kind=EntryKind(row["kind"]),
        name=str(row["name"]),
        data=json.loads(row["data"]),
        payload=None if row["payload"] is None else bytes(row["payload"]),
        outcome=entry_outcome(row),
    )


def entry_outcome(row: Row) -> Outcome | None:
    return _outcome(row["has_outcome"], row["value"], row["failure_code"], row["failure_message"])


def invocation_outcome(row: Row) -> Outcome | None:
    return _outcome(row["has_outcome"], row["outcome_value"], row["failure_code"], row["failure_message"])


def record_from_row(row: Row) -> InvocationRecord:
    caller = None
    if row["caller_id"] is not None:
        caller = EntryRef(str(row["caller_id"]), int(row["caller_index"]))
    return InvocationRecord(
        id=str(row["id"]),
        service=str(row["service"]),
        handler=str(row["handler"]),
        key=row["key"],
        status=Status(row["status"]),
        input=bytes(row["input"]),
        headers=json.loads(row["headers"]),
        created_at_ms=int(row["created_at"]),
        modified_at_ms=int(row["modified_at"]),
        epoch=int(row["epoch"]),
        attempts=int(row["attempts"]),
        idempotency_key=row["idempotency_key"],
        run_at_ms=row["run_at"],
        outcome=invocation_outcome(row),
        last_failure=row["last_failure"],
        caller=caller,
        completed_at_ms=row["completed_at"],
        cancel_requested=bool(row["cancel_requested"]),
        node=row["owner"],
        lease_until_ms=row["lease_until"],
        deployment_id=row["deployment_id"],
        protocol_version=row["protocol_version"],
        protocol_id=None if row["protocol_id"] is None else bytes(row["protocol_id"]),
        last_failure_code=row["last_failure_code"],
        origin_node=row["origin_node"],
    )


def awakeable_from_row(row: Row) -> AwakeableInfo:
    schema = row["schema_json"]
    return AwakeableInfo(
        id=str(row["id"]),
        invocation_id=str(row["invocation_id"]),
        index=int(row["idx"]),
        service=str(row["service"]),
        handler=str(row["handler"]),
        key=row["key"],
        status=AwakeableStatus(row["status"]),
        created_at_ms=int(row["created_at"]),
        deadline_ms=row["deadline"],
        schema=None if schema is None else json.loads(schema),
    )


def promise_outcome(row: Row) -> Outcome:
    if row["failure_code"] is not None:
        return Outcome.fail(int(row["failure_code"]), str(row["failure_message"] or ""))
    return Outcome(None if row["value"] is None else bytes(row["value"]))


def _parse_json(value: bytes | None) -> tuple[bool, Any]:
    try:
        return True, json.loads(value or b"")
    except (ValueError, UnicodeDecodeError):
        return False, None


def same_outcome(a: Outcome, b: Outcome) -> bool:
    """Whether two completions are the same: failures by code and message, successes as parsed
    JSON when both parse (whitespace and key order do not matter), else byte for byte."""
    if a.failure is not None or b.failure is not None:
        return a.failure == b.failure
    if (a.value or b"") == (b.value or b""):
        return True
    ok_a, parsed_a = _parse_json(a.value)
    ok_b, parsed_b = _parse_json(b.value)
    return ok_a and ok_b and _strict_equal(parsed_a, parsed_b)


def _strict_equal(a: Any, b: Any) -> bool:
    # JSON equality without Python's True == 1 == 1.0 coercions between JSON types.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_strict_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b
