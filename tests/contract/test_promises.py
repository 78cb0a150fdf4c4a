"""Contract tests of the SQLite store: workflow promises (get, peek, complete once, wake-ups,
retention)."""

from __future__ import annotations

from awaken.core.journal import Entry, EntryKind, Outcome
from awaken.storage.lifecycle.store import LifecycleStore
from awaken.storage.protocol import Complete, Delivery, PromiseOp, StateOp, Status, Suspend
from tests.contract.support import T0, started, step

WF = {"service": "Wf", "key": "k", "exclusive": False}


async def test_get_waits_until_another_handler_completes_the_promise(store: LifecycleStore) -> None:
    main = await started(store, "main", **WF)
    got = await store.commit(
        step(main, entries=[Entry(0, EntryKind.GET_PROMISE, "p")], promises=[PromiseOp(0, "get", "p")])
    )
    assert got.entry_outcomes == {}  # not completed yet: a waiter is left
    await store.commit(step(main, transition=Suspend([0])))
    assert (await store.get_invocation("main")).status == Status.SUSPENDED  # type: ignore[union-attr]

    other = await started(store, "shared", **WF)
    done = await store.commit(
        step(
            other,
            entries=[Entry(0, EntryKind.COMPLETE_PROMISE, "p", payload=b'"yes"')],
            promises=[PromiseOp(0, "complete", "p", Outcome(b'"yes"'))],
        )
    )
    assert done.entry_outcomes == {0: Outcome()}
    [woken] = done.effects.claims  # the suspended main handler runs again, with the value
    assert woken.record.id == "main" and woken.journal[0].outcome == Outcome(b'"yes"')


async def test_a_running_waiter_gets_a_delivery(store: LifecycleStore) -> None:
    main = await started(store, "main", **WF)
    await store.commit(
        step(main, entries=[Entry(0, EntryKind.GET_PROMISE, "p")], promises=[PromiseOp(0, "get", "p")])
    )
    other = await started(store, "shared", **WF)
    failure = Outcome.fail(403, "no")
    done = await store.commit(
        step(
            other,
            entries=[Entry(0, EntryKind.COMPLETE_PROMISE, "p", data={"code": 403, "message": "no"})],
            promises=[PromiseOp(0, "complete", "p", failure)],
        )
    )
    assert done.effects.deliveries == [Delivery("main", 0, failure)]
    assert (await store.get_journal("main"))[0].outcome == failure


async def test_peek_get_and_a_second_completion(store: LifecycleStore) -> None:
    inv = await started(store, "inv", **WF)
    entries = [
        Entry(0, EntryKind.PEEK_PROMISE, "p"),
        Entry(1, EntryKind.COMPLETE_PROMISE, "p", payload=b"1"),
        Entry(2, EntryKind.PEEK_PROMISE, "p"),
        Entry(3, EntryKind.GET_PROMISE, "p"),
        Entry(4, EntryKind.COMPLETE_PROMISE, "p", payload=b"2"),
        Entry(5, EntryKind.GET_PROMISE, "other"),
    ]
    ops = [
        PromiseOp(0, "peek", "p"),
        PromiseOp(1, "complete", "p", Outcome(b"1")),
        PromiseOp(2, "peek", "p"),
        PromiseOp(3, "get", "p"),
        PromiseOp(4, "complete", "p", Outcome(b"2")),
        PromiseOp(5, "get", "other"),
    ]
    result = await store.commit(step(inv, entries=entries, promises=ops))
    assert result.entry_outcomes == {
        0: Outcome(),  # not completed yet: empty
        1: Outcome(),
        2: Outcome(b"1"),
        3: Outcome(b"1"),
        4: Outcome.fail(409, "promise was already completed"),
    }
    journal = await store.get_journal("inv")
    assert {e.index: e.outcome for e in journal} == {**result.entry_outcomes, 5: None}


async def test_promises_belong_to_a_workflow_key(store: LifecycleStore) -> None:
    one = await started(store, "one", **WF)
    await store.commit(
        step(
            one,
            entries=[Entry(0, EntryKind.COMPLETE_PROMISE, "p")],
            promises=[PromiseOp(0, "complete", "p", Outcome(b"1"))],
        )
    )
    elsewhere = await started(store, "two", service="Wf", key="other")
    peek = await store.commit(
        step(elsewhere, entries=[Entry(0, EntryKind.PEEK_PROMISE, "p")], promises=[PromiseOp(0, "peek", "p")])
    )
    assert peek.entry_outcomes == {0: Outcome()}
    unkeyed = await started(store, "three")
    refused = await store.commit(
        step(unkeyed, entries=[Entry(0, EntryKind.PEEK_PROMISE, "p")], promises=[PromiseOp(0, "peek", "p")])
    )
    assert refused.entry_outcomes[0].failure is not None and refused.entry_outcomes[0].failure.code == 400


async def test_purging_a_workflow_run_clears_its_state_and_promises(store: LifecycleStore) -> None:
    main = await started(
        store, "main", service="Wf", key="k", exclusive=True, workflow_main=True, retention=1000
    )
    await store.commit(
        step(
            main,
            entries=[Entry(0, EntryKind.SET_STATE, "s"), Entry(1, EntryKind.COMPLETE_PROMISE, "p")],
            state=[StateOp("s", b"1")],
            promises=[PromiseOp(1, "complete", "p", Outcome(b"1"))],
        )
    )
    await store.commit(step(main, T0 + 10, transition=Complete(Outcome())))
    # a shared handler of the same key, purged first, takes nothing with it
    shared = await started(store, "shared", **WF, retention=10)
    await store.commit(step(shared, T0 + 10, transition=Complete(Outcome())))
    await store.fire_due_timers(T0 + 500, 10)
    assert await store.get_invocation("shared") is None
    assert await store.get_state("Wf", "k") == {"s": b"1"}

    await store.fire_due_timers(T0 + 1010, 10)
    assert await store.get_invocation("main") is None
    assert await store.get_state("Wf", "k") == {}
    again = await started(store, "again", **WF)
    peek = await store.commit(
        step(again, entries=[Entry(0, EntryKind.PEEK_PROMISE, "p")], promises=[PromiseOp(0, "peek", "p")])
    )
    assert peek.entry_outcomes == {0: Outcome()}  # the promise went with the run
