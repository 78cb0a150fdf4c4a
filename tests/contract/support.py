"""Helpers shared by the storage contract tests."""

from __future__ import annotations

from typing import Any

from awaken.core.journal import Entry, EntryKind
from awaken.storage.lifecycle.store import LifecycleStore
from awaken.storage.protocol import Claim, EntryRef, NewAwakeable, NewInvocation, Progress, Suspend

T0 = 1_700_000_000_000  # a fixed "now": the store never reads a clock
RETENTION = 60_000


def new_inv(
    id: str,
    *,
    service: str = "Greeter",
    handler: str = "greet",
    key: str | None = None,
    exclusive: bool = False,
    now: int = T0,
    run_at: int | None = None,
    caller: EntryRef | None = None,
    idempotency_key: str | None = None,
    retention: int = RETENTION,
    workflow_main: bool = False,
) -> NewInvocation:
    return NewInvocation(
        id=id,
        service=service,
        handler=handler,
        key=key,
        exclusive=exclusive,
        input=b'"hi"',
        headers={"x-test": "1"},
        now_ms=now,
        retention_ms=retention,
        idempotency_key=idempotency_key,
        run_at_ms=run_at,
        caller=caller,
        workflow_main=workflow_main,
    )


def step(claim: Claim, now: int = T0, **kwargs: Any) -> Progress:
    """A Progress of the claimed attempt (its id and epoch)."""
    return Progress(claim.record.id, claim.record.epoch, now, **kwargs)


def accept_all(schema: dict[str, Any], payload: bytes) -> list[str]:
    return []


async def started(store: LifecycleStore, id: str, **kwargs: Any) -> Claim:
    result = await store.create_invocation(new_inv(id, **kwargs))
    assert result.created
    assert len(result.effects.claims) == 1
    return result.effects.claims[0]


async def with_awakeable(
    store: LifecycleStore,
    id: str = "inv-aw",
    awakeable_id: str = "sign_1aw",
    *,
    deadline: int | None = None,
    schema: dict[str, Any] | None = None,
    suspend: bool = True,
) -> Claim:
    """An invocation that created awakeable `awakeable_id` at entry 0 (and suspended on it)."""
    claim = await started(store, id)
    await store.commit(
        step(
            claim,
            entries=[Entry(0, EntryKind.AWAKEABLE, data={"id": awakeable_id})],
            awakeables=[NewAwakeable(awakeable_id, 0, deadline, schema)],
            transition=Suspend([0]) if suspend else None,
        )
    )
    return claim
