"""Completing awakeables (SPEC §3.3), from the ingress and from handlers."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from awaken.core.journal import Outcome, signal_slot
from awaken.errors import BadRequest, Conflict, Gone, NotFound
from awaken.storage.lifecycle import invocations
from awaken.storage.lifecycle.op import Op
from awaken.storage.lifecycle.rows import entry_outcome, same_outcome
from awaken.storage.protocol import (
    AwakeableCompletion,
    AwakeableStatus,
    CompletionStatus,
    Effects,
    PayloadValidator,
    TimerKind,
)

FIRST_AWAKEABLE_SIGNAL = 17  # the protocol's signal indices below are reserved (1: cancel)


def accept_any_payload(schema: dict[str, Any], payload: bytes) -> list[str]:
    """A PayloadValidator that accepts everything (the SDK validated already)."""
    return []


async def complete(
    op: Op, awakeable_id: str, outcome: Outcome, now: int, validate: PayloadValidator
) -> AwakeableCompletion:
    """Complete an awakeable: NotFound, Gone (deadline passed, invocation ended), Conflict (a
    different completion came first), BadRequest (the payload fails the awakeable's type; nothing
    is recorded); the same completion again is PREVIOUSLY_ACCEPTED."""
    # The invocation's lock first (an awakeable's invocation never changes: found in the same
    # statement); then the awakeable as it is now.
    invocation = await op.tx.one("lock_invocation_of_awakeable", {"id": awakeable_id})
    row = await op.tx.one("get_awakeable", {"id": awakeable_id})
    if row is None or int(row["idx"]) < 0:  # a handler served elsewhere (noted, or not)
        return await _complete_remote(op, awakeable_id, outcome, now, noted=row is not None)
    invocation_id = str(row["invocation_id"])
    status = AwakeableStatus(row["status"])
    idx = int(row["idx"])
    if status == AwakeableStatus.PENDING:
        deadline = row["deadline"]
        if deadline is not None and deadline <= now:
            # Its DEADLINE timer is due: firing it records the expiry (and wakes the handler).
            raise Gone(f"awakeable {awakeable_id} timed out")
        if outcome.ok and row["schema_json"] is not None:
            errors = validate(json.loads(row["schema_json"]), outcome.value or b"")
            if errors:
                details: list[object] = [*errors]
                raise BadRequest("payload does not match the awakeable's type", details=details)
        new_status = AwakeableStatus.RESOLVED if outcome.ok else AwakeableStatus.REJECTED
        await op.tx.run("set_awakeable_status", {"id": awakeable_id, "status": new_status.value})
        if deadline is not None:
            params = {"id": invocation_id, "idx": idx, "kind": TimerKind.DEADLINE.value}
            await op.tx.run("delete_timer", params)
        effects = await invocations.wake(op, invocation_id, idx, outcome, now, invocation)
        return AwakeableCompletion(CompletionStatus.ACCEPTED, effects)
    if status in (AwakeableStatus.RESOLVED, AwakeableStatus.REJECTED):
        entry = await op.tx.one("get_entry", {"id": invocation_id, "idx": idx})
        stored = None if entry is None else entry_outcome(entry)
        if stored is not None and same_outcome(stored, outcome):
            return AwakeableCompletion(CompletionStatus.PREVIOUSLY_ACCEPTED, Effects())
        raise Conflict(f"awakeable {awakeable_id} was already completed")
    if status == AwakeableStatus.EXPIRED:
        raise Gone(f"awakeable {awakeable_id} timed out")
    raise Gone(f"awakeable {awakeable_id} can no longer be completed: its invocation has ended")


async def complete_from_handler(
    op: Op, awakeable_id: str, outcome: Outcome, now: int
) -> tuple[Outcome, Effects]:
    """ctx.resolve_awakeable / reject_awakeable: the §3.3 answer becomes the entry's outcome."""
    try:
        done = await complete(op, awakeable_id, outcome, now, accept_any_payload)
    except NotFound as exc:
        return Outcome.fail(404, str(exc)), Effects()
    except Gone as exc:
        return Outcome.fail(410, str(exc)), Effects()
    except Conflict as exc:
        return Outcome.fail(409, str(exc)), Effects()
    except BadRequest as exc:
        return Outcome.fail(400, str(exc)), Effects()
    return Outcome(), done.effects


async def expire(op: Op, invocation_id: str, idx: int, now: int) -> Effects:
    """An awakeable's deadline passed (its invocation's row is locked): 408 in the handler."""
    aw = await op.tx.one("get_awakeable_by_entry", {"invocation_id": invocation_id, "idx": idx})
    if aw is None or aw["status"] != AwakeableStatus.PENDING:
        return Effects()
    await op.tx.run("set_awakeable_status", {"id": aw["id"], "status": AwakeableStatus.EXPIRED.value})
    return await invocations.wake(
        op, invocation_id, idx, Outcome.fail(408, f"awakeable {aw['id']} timed out"), now
    )


async def _complete_remote(
    op: Op, awakeable_id: str, outcome: Outcome, now: int, noted: bool
) -> AwakeableCompletion:
    """An awakeable of a handler served elsewhere: its id is the invocation's StartMessage.id
    (random, chosen by awaken) and a signal index, the SDK's derivation. The same rules (§3.3).
    `noted`: a suspension named it, so it is listed as pending (and is no longer, once done)."""
    raw = _awakeable_bytes(awakeable_id)
    if raw is None:
        raise NotFound(f"awakeable {awakeable_id} not found")
    protocol_id, index = raw[:24], int.from_bytes(raw[24:28], "big")
    found = await op.tx.one("get_invocation_by_protocol_id", {"protocol_id": protocol_id})
    if found is None or index < FIRST_AWAKEABLE_SIGNAL:
        raise NotFound(f"awakeable {awakeable_id} not found")
    row = await invocations.lock(op, str(found["id"]))
    assert row is not None
    slot = signal_slot(index)
    stored = await op.tx.one(
        "get_notification", {"id": str(row["id"]), "completion_id": None, "signal_id": index}
    )
    if stored is not None:
        if same_outcome(entry_outcome(stored) or Outcome(), outcome):
            return AwakeableCompletion(CompletionStatus.PREVIOUSLY_ACCEPTED, Effects())
        raise Conflict(f"awakeable {awakeable_id} was already completed")
    if row["status"] == "completed":
        raise Gone(f"awakeable {awakeable_id} can no longer be completed: its invocation has ended")
    effects = await invocations.wake(op, str(row["id"]), slot, outcome, now, row)
    if noted:
        new_status = AwakeableStatus.RESOLVED if outcome.ok else AwakeableStatus.REJECTED
        await op.tx.run("set_awakeable_status", {"id": awakeable_id, "status": new_status.value})
    return AwakeableCompletion(CompletionStatus.ACCEPTED, effects)


def _awakeable_bytes(awakeable_id: str) -> bytes | None:
    body = awakeable_id[len("sign_1") :] if awakeable_id.startswith(("sign_1", "prom_1")) else ""
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 28 else None
