"""Contract tests of the SQLite store: cancel, kill, purge and resume."""

from __future__ import annotations

import pytest

from awaken.core.journal import Entry, EntryKind, Outcome
from awaken.errors import Conflict, NotFound
from awaken.storage.lifecycle.store import LifecycleStore
from awaken.storage.protocol import Complete, EntryRef, Pause, Status, Suspend
from tests.contract.support import T0, new_inv, started, step


async def with_child(store: LifecycleStore, parent_id: str, child_id: str) -> None:
    """`parent_id` called `child_id` (entry 0) and suspended waiting for it."""
    parent = await started(store, parent_id)
    call = Entry(0, EntryKind.CALL, "Greeter/greet", data={"invocation_id": child_id})
    child = new_inv(child_id, caller=EntryRef(parent_id, 0))
    await store.commit(step(parent, entries=[call], children=[child], transition=Suspend([0])))


async def test_cancel_before_start_ends_at_once(store: LifecycleStore) -> None:
    await store.create_invocation(new_inv("later", run_at=T0 + 60_000))
    result = await store.cancel_invocation("later", False, T0 + 1)
    assert result.done and result.effects.completed == [("later", Outcome.fail(409, "canceled"))]
    record = await store.get_invocation("later")
    assert record is not None and record.status == Status.COMPLETED
    with pytest.raises(Conflict):
        await store.cancel_invocation("later", False, T0 + 2)
    with pytest.raises(NotFound):
        await store.cancel_invocation("nobody", True, T0 + 2)


async def test_cancel_of_a_suspended_invocation_claims_it_with_the_request(store: LifecycleStore) -> None:
    await with_child(store, "parent", "child")
    result = await store.cancel_invocation("parent", False, T0 + 1)
    assert not result.done
    [claim] = result.effects.claims
    assert claim.record.id == "parent" and claim.record.cancel_requested
    # Its handler raises the cancellation: the CANCEL_SIGNAL entry clears the flag and cancels
    # the call it waits on (running: its attempt is told).
    signal = Entry(1, EntryKind.CANCEL_SIGNAL, outcome=Outcome())
    done = await store.commit(step(claim, T0 + 2, entries=[signal]))
    assert done.effects.cancels == ["child"]
    record = await store.get_invocation("parent")
    assert record is not None and not record.cancel_requested
    child = await store.get_invocation("child")
    assert child is not None and child.cancel_requested


async def test_a_cancel_that_lands_while_the_attempt_suspends_resumes_it(store: LifecycleStore) -> None:
    claim = await started(store, "inv")
    result = await store.cancel_invocation("inv", False, T0 + 1)
    assert result.effects.cancels == ["inv"] and not result.done  # running: its attempt is told
    ended = await store.commit(
        step(claim, T0 + 2, entries=[Entry(0, EntryKind.SLEEP)], transition=Suspend([0]))
    )
    assert ended.resumed is not None and ended.resumed.record.cancel_requested  # not parked


async def test_kill_ends_the_invocation_and_the_calls_it_waits_on(store: LifecycleStore) -> None:
    await with_child(store, "parent", "child")
    result = await store.cancel_invocation("parent", True, T0 + 1)
    assert result.done
    assert dict(result.effects.completed) == {
        "parent": Outcome.fail(409, "killed"),
        "child": Outcome.fail(409, "killed"),
    }
    for invocation_id in ("parent", "child"):
        record = await store.get_invocation(invocation_id)
        assert record is not None and record.status == Status.COMPLETED


async def test_purge_and_resume(store: LifecycleStore) -> None:
    claim = await started(store, "inv")
    with pytest.raises(Conflict):
        await store.purge_invocation("inv")
    await store.commit(step(claim, transition=Pause("boom")))
    resumed = await store.resume_invocation("inv", T0 + 1)
    assert resumed.record.status == Status.RUNNING and resumed.record.attempts == 0
    with pytest.raises(Conflict):
        await store.resume_invocation("inv", T0 + 2)
    await store.commit(step(resumed, transition=Complete(Outcome(b"1"))))
    await store.purge_invocation("inv")
    assert await store.get_invocation("inv") is None
    with pytest.raises(NotFound):
        await store.purge_invocation("inv")


async def test_pause_by_hand_fences_the_running_attempt(store: LifecycleStore) -> None:
    claim = await started(store, "inv")
    await store.pause_invocation("inv", T0 + 1)
    with pytest.raises(Conflict):  # the old attempt can no longer write
        await store.commit(step(claim, T0 + 2, entries=[Entry(0, EntryKind.RUN, outcome=Outcome(b"1"))]))
    with pytest.raises(Conflict):
        await store.pause_invocation("inv", T0 + 3)
    resumed = await store.resume_invocation("inv", T0 + 4)
    assert resumed.record.epoch == claim.record.epoch + 2 and resumed.journal == []
    with pytest.raises(NotFound):
        await store.pause_invocation("nobody", T0)
