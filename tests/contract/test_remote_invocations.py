"""The store's rules for invocations whose handler is served elsewhere (SPEC §8), on every dialect:
their journal is a log of protocol messages; timers, awakeables, cancellations and calls append
notifications to it and wake the invocation; awakeable ids follow from the invocation's random
protocol id and the SDK's signal index, under the rules of SPEC §3.3; deployments are records an
invocation is pinned to."""

from __future__ import annotations

import dataclasses
import os

import pytest

from awaken.core.journal import Entry, EntryKind, Outcome, completion_slot, signal_slot
from awaken.errors import Conflict, Gone, NotFound
from awaken.protocol import awakeable_id
from awaken.storage.lifecycle.store import LifecycleStore
from awaken.storage.protocol import (
    Claim,
    Complete,
    CompletionStatus,
    DeploymentRecord,
    NewAwakeable,
    Status,
    Suspend,
)
from tests.contract.support import T0, accept_all, new_inv, step

PROTOCOL_ID = os.urandom(24)


def command(index: int, name: str = "") -> Entry:
    return Entry(index, EntryKind.COMMAND, name, {"type": 0x0411}, b"\x04\x11\x00\x00\x00\x00\x00\x00")


async def remote(store: LifecycleStore, invocation_id: str = "inv-r", **kwargs: object) -> Claim:
    new = dataclasses.replace(
        new_inv(invocation_id, **kwargs),  # type: ignore[arg-type]
        deployment_id="dp_1test",
        protocol_version=6,
        protocol_id=PROTOCOL_ID if invocation_id == "inv-r" else os.urandom(24),
    )
    result = await store.create_invocation(new)
    [claim] = result.effects.claims
    return claim


async def test_a_remote_journal_is_a_log_of_commands_and_notifications(store: LifecycleStore) -> None:
    claim = await remote(store)
    assert claim.record.remote and claim.record.protocol_id == PROTOCOL_ID
    assert claim.record.deployment_id == "dp_1test" and claim.record.protocol_version == 6
    await store.commit(step(claim, entries=[command(0, "input"), command(1, "run")]))
    await store.commit(step(claim, entries=[command(2, "more")]))
    journal = await store.get_journal("inv-r")
    assert [(e.index, e.kind, e.name) for e in journal] == [
        (0, EntryKind.COMMAND, "input"),
        (1, EntryKind.COMMAND, "run"),
        (2, EntryKind.COMMAND, "more"),
    ]
    assert journal[1].payload == command(1).payload
    found = await store.get_invocation_by_protocol_id(PROTOCOL_ID)
    assert found is not None and found.id == "inv-r"
    assert await store.get_invocation_by_protocol_id(os.urandom(24)) is None


async def test_a_timer_appends_its_notification_and_wakes_the_invocation(store: LifecycleStore) -> None:
    claim = await remote(store)
    slot = completion_slot(1)
    await store.commit(
        step(claim, entries=[command(0), command(1)], sleeps=[(slot, T0 + 100)], transition=Suspend([slot]))
    )
    assert (await store.get_invocation("inv-r")).status == Status.SUSPENDED  # type: ignore[union-attr]
    effects = await store.fire_due_timers(T0 + 100, 10)
    [woken] = effects.claims
    assert woken.record.id == "inv-r"
    journal = woken.journal
    assert [e.kind for e in journal] == [EntryKind.COMMAND, EntryKind.COMMAND, EntryKind.NOTIFICATION]
    assert journal[2].data["c"] == 1 and journal[2].outcome == Outcome()


async def test_awakeables_of_a_remote_handler_follow_the_rules(store: LifecycleStore) -> None:
    claim = await remote(store)
    first, second = awakeable_id(PROTOCOL_ID, 17), awakeable_id(PROTOCOL_ID, 18)
    slots = [signal_slot(17), signal_slot(18)]
    await store.commit(
        step(
            claim,
            entries=[command(0)],
            # a suspension names the signals it waits on: they are listed as pending
            awakeables=[
                NewAwakeable(first, slots[0], None, None),
                NewAwakeable(second, slots[1], None, None),
            ],
            transition=Suspend(slots),
        )
    )
    assert sorted(a.id for a in await store.list_awakeables()) == sorted([first, second])
    done = await store.complete_awakeable(first, Outcome(b'"yes"'), T0 + 1, accept_all)
    assert done.status == CompletionStatus.ACCEPTED
    [woken] = done.effects.claims
    assert woken.journal[-1].data["s"] == 17 and woken.journal[-1].outcome == Outcome(b'"yes"')
    again = await store.complete_awakeable(first, Outcome(b'"yes"'), T0 + 2, accept_all)
    assert again.status == CompletionStatus.PREVIOUSLY_ACCEPTED and again.effects.empty()
    with pytest.raises(Conflict):
        await store.complete_awakeable(first, Outcome(b'"no"'), T0 + 2, accept_all)
    assert [a.id for a in await store.list_awakeables()] == [second]
    # an id of nobody, or below the awakeables' signal range (1: cancel), is not found
    for unknown in (awakeable_id(os.urandom(24), 17), awakeable_id(PROTOCOL_ID, 1), "sign_1garbage"):
        with pytest.raises(NotFound):
            await store.complete_awakeable(unknown, Outcome(b"1"), T0 + 3, accept_all)
    # an awakeable no suspension named yet is still completed (the SDK may not have suspended)
    third = awakeable_id(PROTOCOL_ID, 19)
    assert (await store.complete_awakeable(third, Outcome(b"3"), T0 + 3, accept_all)).status == (
        CompletionStatus.ACCEPTED
    )
    await store.commit(step(woken, T0 + 4, transition=Complete(Outcome(b'"done"'))))
    with pytest.raises(Gone):
        await store.complete_awakeable(second, Outcome(b"2"), T0 + 5, accept_all)
    assert await store.list_awakeables() == []


async def test_cancelling_a_remote_invocation_signals_it(store: LifecycleStore) -> None:
    claim = await remote(store)
    await store.commit(step(claim, entries=[command(0)], transition=Suspend([signal_slot(17)])))
    result = await store.cancel_invocation("inv-r", False, T0 + 1)
    assert not result.done  # the SDK ends the handler itself, as it expects to
    [woken] = result.effects.claims
    cancel = woken.journal[-1]
    assert cancel.kind is EntryKind.NOTIFICATION and cancel.data["s"] == 1
    assert cancel.outcome is not None and cancel.outcome.ok


async def test_deployments_are_records_that_pin_invocations(store: LifecycleStore) -> None:
    record = DeploymentRecord(
        id="dp_1test",
        uri="http://127.0.0.1:9080",
        http_version="2",
        protocol_mode="BIDI_STREAM",
        protocol_version=6,
        manifest={"minProtocolVersion": 5, "maxProtocolVersion": 7, "services": []},
        additional_headers={"x-api-key": "k"},
        sdk_version="restate-sdk-typescript/1.17.2",
        created_at_ms=T0,
    )
    await store.put_deployment(record)
    assert await store.list_deployments() == [record]
    claim = await remote(store)
    with pytest.raises(Conflict):
        await store.delete_deployment("dp_1test", False)  # inv-r is pinned to it
    await store.commit(step(claim, transition=Complete(Outcome(b"1"))))
    await store.delete_deployment("dp_1test", False)
    assert await store.list_deployments() == []
    with pytest.raises(NotFound):
        await store.delete_deployment("dp_1test", True)
