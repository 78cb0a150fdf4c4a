"""Reads: records, journals, state, listings (no locks taken)."""

from __future__ import annotations

from collections.abc import Callable

from awaken.core.journal import Entry, Outcome
from awaken.errors import BadRequest
from awaken.storage.lifecycle.op import Op
from awaken.storage.lifecycle.rows import (
    awakeable_from_row,
    entry_from_row,
    entry_outcome,
    invocation_outcome,
    record_from_row,
)
from awaken.storage.protocol import (
    AwakeableInfo,
    EntryTimes,
    InvocationFilter,
    InvocationRecord,
    StateRow,
    Status,
    parse_page_cursor,
)


async def record(op: Op, invocation_id: str) -> InvocationRecord | None:
    row = await op.tx.one("get_invocation", {"id": invocation_id})
    return None if row is None else record_from_row(row)


async def journal(op: Op, invocation_id: str) -> list[Entry]:
    return [entry_from_row(r) for r in await op.tx.all("get_journal", {"id": invocation_id})]


async def journal_times(op: Op, invocation_id: str) -> list[EntryTimes]:
    def ms(value: object) -> int | None:
        return None if value is None else int(str(value))

    rows = await op.tx.all("get_journal_times", {"id": invocation_id})
    return [EntryTimes(int(r["idx"]), ms(r["created_at"]), ms(r["completed_at"])) for r in rows]


async def entry_result(op: Op, invocation_id: str, idx: int) -> Outcome | None:
    row = await op.tx.one("get_entry", {"id": invocation_id, "idx": idx})
    return None if row is None else entry_outcome(row)


async def outcomes(
    op: Op, invocation_ids: list[str], missing: Callable[[str], Outcome] | None = None
) -> dict[str, Outcome]:
    """The outcomes of those of these invocations that have completed (and `missing(id)` for
    those that do not exist, if given)."""
    found: dict[str, Outcome] = {}
    seen: set[str] = set()
    for row in await op.tx.all("get_outcomes", {"ids": invocation_ids}):
        seen.add(str(row["id"]))
        outcome = invocation_outcome(row)
        if outcome is not None:
            found[str(row["id"])] = outcome
    if missing is not None:
        found.update((i, missing(i)) for i in invocation_ids if i not in seen)
    return found


async def state_value(op: Op, service: str, key: str, name: str) -> bytes | None:
    value = await op.scalar("get_state_value", {"service": service, "key": key, "name": name})
    return None if value is None else bytes(value)


async def list_state(op: Op, service: str | None, key: str | None, limit: int) -> list[StateRow]:
    params = {"service": service, "key": key, "limit": limit}
    return [
        StateRow(r["service"], r["key"], r["name"], bytes(r["value"]))
        for r in await op.tx.all("list_state", params)
    ]


async def list_invocations(
    op: Op, filter: InvocationFilter, limit: int, before: str | None
) -> list[InvocationRecord]:
    before_created: int | None = None
    before_id: str | None = None
    if before is not None:
        try:
            before_created, before_id = parse_page_cursor(before)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
    params = {
        "statuses": sorted(s.value for s in filter.status) if filter.status else None,
        "service": filter.service,
        "handler": filter.handler,
        "key": filter.key,
        "created_after": filter.created_after_ms,
        "created_before": filter.created_before_ms,
        "before_created": before_created,
        "before_id": before_id,
        "limit": limit,
    }
    return [record_from_row(r) for r in await op.tx.all("list_invocations", params)]


async def count_invocations(op: Op) -> dict[Status, int]:
    return {Status(r[0]): int(r[1]) for r in await op.tx.all("count_invocations_by_status")}


async def count_matching(op: Op, filter: InvocationFilter) -> dict[Status, int]:
    params = {
        "service": filter.service,
        "handler": filter.handler,
        "key": filter.key,
        "created_after": filter.created_after_ms,
        "created_before": filter.created_before_ms,
    }
    return {Status(r[0]): int(r[1]) for r in await op.tx.all("count_matching_invocations", params)}


async def list_awakeables(op: Op, limit: int) -> list[AwakeableInfo]:
    return [awakeable_from_row(r) for r in await op.tx.all("list_pending_awakeables", {"limit": limit})]


async def awakeable_invocation(op: Op, awakeable_id: str) -> str | None:
    value = await op.scalar("get_awakeable_invocation", {"id": awakeable_id})
    return None if value is None else str(value)
