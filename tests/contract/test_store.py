"""Contract tests of every store against `awaken.storage.protocol` (real databases, no mocks)."""

from __future__ import annotations

import asyncio

import pytest

from awaken.core.journal import LARGE_VALUE, Entry, EntryKind, Outcome
from awaken.errors import BadRequest, Conflict, Fenced, StorageError
from awaken.storage.lifecycle.store import LifecycleStore
from awaken.storage.protocol import (
    Complete,
    EntryRef,
    Pause,
    Progress,
    Retry,
    StateOp,
    Status,
    Suspend,
)
from tests.contract.conftest import StoreFactory
from tests.contract.support import (
    T0,
    new_inv,
    started,
    step,
    with_awakeable,
)


# -- create ------------------------------------------------------------------------------------
async def test_create_claims_a_plain_invocation(store: LifecycleStore) -> None:
    result = await store.create_invocation(new_inv("inv-1", idempotency_key="idem"))
    assert result.created
    [claim] = result.effects.claims
    assert claim.record.id == "inv-1"
    assert claim.record.status == Status.RUNNING
    assert claim.record.epoch == 1
    assert claim.record.attempts == 0
    assert claim.record.input == b'"hi"'
    assert claim.record.headers == {"x-test": "1"}
    assert claim.record.idempotency_key == "idem"
    assert claim.record.created_at_ms == T0
    assert claim.journal == []
    assert claim.state == {}
    assert result.record == claim.record
    assert result.effects.next_timer_ms is None
    assert await store.get_invocation("inv-1") == claim.record
    assert await store.get_invocation("nope") is None


async def test_create_keyed_claim_carries_the_objects_state(store: LifecycleStore) -> None:
    owner = await started(store, "inv-0", service="Counter", key="k", exclusive=True)
    await store.commit(step(owner, state=[StateOp("count", b"1"), StateOp("name", b'"x"')]))
    await store.commit(step(owner, transition=Complete(Outcome(b"1"))))
    shared = await started(store, "inv-1", service="Counter", key="k", exclusive=False)
    assert shared.state == {"count": b"1", "name": b'"x"'}
    assert await store.get_state("Counter", "k") == {"count": b"1", "name": b'"x"'}
    assert await store.get_state("Counter", "other") == {}


async def test_list_state_of_all_of_a_service_or_of_a_key(store: LifecycleStore) -> None:
    await store.replace_state("Counter", "b", {"n": b"2", "a": b"\x00\xff"})
    await store.replace_state("Counter", "a", {"n": b"1"})
    await store.replace_state("Cart", "a", {"items": b"[]"})
    everything = await store.list_state()
    assert [(r.service, r.key, r.name, r.value) for r in everything] == [
        ("Cart", "a", "items", b"[]"),
        ("Counter", "a", "n", b"1"),
        ("Counter", "b", "a", b"\x00\xff"),
        ("Counter", "b", "n", b"2"),
    ]
    assert [r.key for r in await store.list_state("Counter")] == ["a", "b", "b"]
    assert [r.name for r in await store.list_state("Counter", "b")] == ["a", "n"]
    assert await store.list_state("Counter", "nobody") == []
    assert len(await store.list_state(limit=2)) == 2


async def test_create_duplicate_id_returns_the_existing_invocation(store: LifecycleStore) -> None:
    first = await store.create_invocation(new_inv("inv-1"))
    again = await store.create_invocation(new_inv("inv-1", now=T0 + 5))
    assert not again.created
    assert again.record == first.record
    assert again.effects.claims == [] and again.effects.deliveries == []
    assert len(await store.list_invocations()) == 1


async def test_an_early_create_is_a_create_that_the_next_durable_write_settles(
    store: LifecycleStore,
) -> None:
    """`durable=False` (a call's creation): the same invocation and claim as a durable create;
    the attempt's next write goes on from it, and `settled()` returns once it is on disk."""
    result = await store.create_invocation(new_inv("inv-early"), durable=False)
    assert result.created
    [claim] = result.effects.claims
    again = await store.create_invocation(new_inv("inv-early"), durable=False)
    assert not again.created and again.record.id == "inv-early"
    await store.commit(step(claim, entries=[Entry(0, EntryKind.RUN, "s", outcome=Outcome(b"1"))]))
    await store.settled()
    record = await store.get_invocation("inv-early")
    assert record is not None and record.status == Status.RUNNING and record.epoch == claim.record.epoch


async def test_outcomes_of_invocations_that_do_not_exist_are_told_if_asked(store: LifecycleStore) -> None:
    claim = await started(store, "inv-done")
    await store.commit(step(claim, transition=Complete(Outcome(b"1"))))
    await started(store, "inv-running")
    ids = ["inv-done", "inv-running", "inv-gone"]
    assert await store.get_outcomes(ids) == {"inv-done": Outcome(b"1")}
    lost = await store.get_outcomes(ids, missing=lambda i: Outcome.fail(503, f"{i} is gone"))
    assert lost == {"inv-done": Outcome(b"1"), "inv-gone": Outcome.fail(503, "inv-gone is gone")}


async def test_exclusive_invocations_queue_behind_the_key_lock_in_fifo_order(store: LifecycleStore) -> None:
    first = await store.create_invocation(new_inv("a", service="Obj", key="k", exclusive=True))
    assert len(first.effects.claims) == 1
    queued = []
    for i, id in enumerate(["b", "c", "d"]):
        result = await store.create_invocation(
            new_inv(id, service="Obj", key="k", exclusive=True, now=T0 + i)
        )
        assert result.created and result.effects.claims == []
        assert result.record.status == Status.PENDING
        queued.append(id)
    # Another key and a shared handler of the same key are not blocked.
    other = await store.create_invocation(new_inv("x", service="Obj", key="other", exclusive=True))
    assert len(other.effects.claims) == 1
    shared = await store.create_invocation(new_inv("y", service="Obj", key="k", exclusive=False))
    assert len(shared.effects.claims) == 1

    claim = first.effects.claims[0]
    order = []
    while True:
        done = await store.commit(step(claim, transition=Complete(Outcome(b"null"))))
        assert done.effects.completed == [(claim.record.id, Outcome(b"null"))]
        if not done.effects.claims:
            break
        [claim] = done.effects.claims
        assert claim.record.status == Status.RUNNING and claim.record.epoch == 1
        order.append(claim.record.id)
    assert order == queued
    pending = await store.list_invocations(status=Status.PENDING)
    assert pending == []


async def test_delayed_invocation_is_scheduled_then_started_by_its_timer(store: LifecycleStore) -> None:
    result = await store.create_invocation(new_inv("later", run_at=T0 + 1000))
    assert result.created and result.effects.claims == []
    assert result.record.status == Status.SCHEDULED
    assert result.record.run_at_ms == T0 + 1000
    assert result.effects.next_timer_ms == T0 + 1000
    assert await store.next_timer_ms() == T0 + 1000

    early = await store.fire_due_timers(T0 + 999, 10)
    assert early.claims == [] and early.next_timer_ms == T0 + 1000

    fired = await store.fire_due_timers(T0 + 1000, 10)
    [claim] = fired.claims
    assert claim.record.id == "later" and claim.record.status == Status.RUNNING and claim.record.epoch == 1
    assert fired.next_timer_ms is None
    assert await store.next_timer_ms() is None


async def test_run_at_in_the_past_starts_now(store: LifecycleStore) -> None:
    result = await store.create_invocation(new_inv("now", run_at=T0))
    assert len(result.effects.claims) == 1


async def test_delayed_exclusive_invocation_queues_if_the_key_is_locked(store: LifecycleStore) -> None:
    holder = await started(store, "holder", service="Obj", key="k", exclusive=True)
    await store.create_invocation(new_inv("later", service="Obj", key="k", exclusive=True, run_at=T0 + 10))
    fired = await store.fire_due_timers(T0 + 10, 10)
    assert fired.claims == []
    assert (await store.get_invocation("later")).status == Status.PENDING  # type: ignore[union-attr]
    done = await store.commit(step(holder, T0 + 20, transition=Complete(Outcome())))
    assert [c.record.id for c in done.effects.claims] == ["later"]


# -- commit ------------------------------------------------------------------------------------
async def test_commit_upserts_entries_by_index(store: LifecycleStore) -> None:
    claim = await started(store, "inv")
    run = Entry(0, EntryKind.RUN, "fetch", data={"a": [1, 2]}, payload=b"p")
    await store.commit(step(claim, entries=[run, Entry(1, EntryKind.SET_STATE, "n", outcome=Outcome())]))
    journal = await store.get_journal("inv")
    assert journal == [run, Entry(1, EntryKind.SET_STATE, "n", outcome=Outcome())]

    done = run.with_outcome(Outcome(b'{"ok":true}'))
    await store.commit(step(claim, entries=[done]))
    assert (await store.get_journal("inv"))[0] == done

    # An in-memory copy without the outcome never erases a stored one.
    await store.commit(step(claim, entries=[run]))
    assert (await store.get_journal("inv"))[0] == done

    failed = Entry(2, EntryKind.RUN, "boom", outcome=Outcome.fail(500, "nope"))
    empty = Entry(3, EntryKind.RUN, "empty", outcome=Outcome(b""))
    await store.commit(step(claim, entries=[failed, empty]))
    journal = await store.get_journal("inv")
    assert journal[2] == failed
    assert journal[3].outcome == Outcome(b"")
    assert journal[1].outcome == Outcome(None)


async def test_commit_with_a_stale_epoch_is_rejected(store: LifecycleStore) -> None:
    claim = await started(store, "inv")
    newer = await store.begin_attempt("inv", T0 + 1)
    assert newer is not None and newer.record.epoch == 2
    with pytest.raises(Conflict):
        await store.commit(step(claim, entries=[Entry(0, EntryKind.RUN)]))
    assert await store.get_journal("inv") == []
    await store.commit(step(newer, entries=[Entry(0, EntryKind.RUN)]))
    await store.commit(step(newer, transition=Complete(Outcome())))
    with pytest.raises(Conflict):  # completed: nothing runs it any more
        await store.commit(step(newer, entries=[Entry(1, EntryKind.RUN)]))
    with pytest.raises(Conflict):
        await store.commit(Progress("unknown", 1, T0))


async def test_state_ops(store: LifecycleStore) -> None:
    claim = await started(store, "inv", service="Obj", key="k", exclusive=True)
    await store.commit(step(claim, state=[StateOp("a", b"1"), StateOp("b", b"2"), StateOp("c", b"3")]))
    await store.commit(step(claim, state=[StateOp("a", b"10"), StateOp("b", None)]))
    assert await store.get_state("Obj", "k") == {"a": b"10", "c": b"3"}
    await store.commit(step(claim, state=[StateOp(None, None), StateOp("z", b"0")]))
    assert await store.get_state("Obj", "k") == {"z": b"0"}
    plain = await started(store, "plain")
    with pytest.raises(BadRequest):
        await store.commit(step(plain, state=[StateOp("a", b"1")]))


async def test_complete_stores_the_outcome_and_schedules_purge(store: LifecycleStore) -> None:
    claim = await started(store, "inv", retention=5000)
    result = await store.commit(step(claim, T0 + 10, transition=Complete(Outcome.fail(409, "taken"))))
    assert result.effects.completed == [("inv", Outcome.fail(409, "taken"))]
    assert result.effects.next_timer_ms == T0 + 10 + 5000
    record = await store.get_invocation("inv")
    assert record is not None
    assert record.status == Status.COMPLETED
    assert record.outcome == Outcome.fail(409, "taken")
    assert record.completed_at_ms == T0 + 10 and record.modified_at_ms == T0 + 10
    assert await store.begin_attempt("inv", T0 + 11) is None


async def test_complete_wakes_a_suspended_caller(store: LifecycleStore) -> None:
    parent = await started(store, "parent")
    child = new_inv("child", service="Child", caller=EntryRef("parent", 0))
    result = await store.commit(
        step(parent, entries=[Entry(0, EntryKind.CALL, "Child/run", data={"id": "child"})], children=[child])
    )
    [child_claim] = result.effects.claims
    assert child_claim.record.id == "child"
    assert child_claim.record.caller == EntryRef("parent", 0)
    suspended = await store.commit(step(parent, transition=Suspend([0])))
    assert suspended.resumed is None
    assert (await store.get_invocation("parent")).status == Status.SUSPENDED  # type: ignore[union-attr]

    done = await store.commit(step(child_claim, T0 + 5, transition=Complete(Outcome(b'"done"'))))
    assert done.effects.completed == [("child", Outcome(b'"done"'))]
    [woken] = done.effects.claims
    assert woken.record.id == "parent"
    assert woken.record.epoch == parent.record.epoch + 1
    assert woken.record.status == Status.RUNNING
    assert woken.journal[0].outcome == Outcome(b'"done"')


async def test_complete_delivers_to_a_running_caller(store: LifecycleStore) -> None:
    parent = await started(store, "parent")
    result = await store.commit(
        step(
            parent,
            entries=[Entry(0, EntryKind.CALL)],
            children=[new_inv("child", caller=EntryRef("parent", 0))],
        )
    )
    [child] = result.effects.claims
    done = await store.commit(step(child, transition=Complete(Outcome.fail(500, "bad"))))
    assert done.effects.claims == []
    assert done.effects.deliveries[0].invocation_id == "parent"
    assert done.effects.deliveries[0].index == 0
    assert done.effects.deliveries[0].outcome == Outcome.fail(500, "bad")
    assert (await store.get_journal("parent"))[0].outcome == Outcome.fail(500, "bad")


async def test_call_of_an_already_completed_invocation_completes_the_entry_at_once(
    store: LifecycleStore,
) -> None:
    first = await started(store, "idem-child", idempotency_key="k1")
    await store.commit(step(first, transition=Complete(Outcome(b"42"))))
    parent = await started(store, "parent")
    result = await store.commit(
        step(
            parent,
            entries=[Entry(0, EntryKind.CALL)],
            children=[new_inv("idem-child", caller=EntryRef("parent", 0), idempotency_key="k1")],
            transition=Suspend([0]),
        )
    )
    assert result.resumed is not None  # the entry completed in this very commit
    assert result.resumed.journal[0].outcome == Outcome(b"42")
    assert result.effects.claims == []


async def test_second_caller_of_a_running_invocation_is_completed_with_the_first(
    store: LifecycleStore,
) -> None:
    callee = await store.create_invocation(new_inv("callee", caller=None))
    [callee_claim] = callee.effects.claims
    parents = [await started(store, p) for p in ("p1", "p2")]
    for p in parents:
        dup = await store.commit(
            step(
                p,
                entries=[Entry(0, EntryKind.CALL)],
                children=[new_inv("callee", caller=EntryRef(p.record.id, 0))],
                transition=Suspend([0]),
            )
        )
        assert dup.effects.claims == [] and dup.resumed is None
    done = await store.commit(step(callee_claim, transition=Complete(Outcome(b"7"))))
    assert sorted(c.record.id for c in done.effects.claims) == ["p1", "p2"]
    for c in done.effects.claims:
        assert c.journal[0].outcome == Outcome(b"7")


async def test_suspend_resumes_when_an_awaited_entry_is_already_complete(store: LifecycleStore) -> None:
    claim = await started(store, "inv")
    await store.commit(step(claim, entries=[Entry(0, EntryKind.SLEEP), Entry(1, EntryKind.CALL)]))
    await store.complete_entry(EntryRef("inv", 0), Outcome(), T0 + 1)
    result = await store.commit(step(claim, T0 + 2, transition=Suspend([0, 1])))
    assert result.resumed is not None
    assert result.resumed.record.epoch == claim.record.epoch + 1
    assert result.resumed.record.status == Status.RUNNING
    assert result.resumed.journal[0].outcome == Outcome()
    with pytest.raises(Conflict):
        await store.commit(step(claim))


async def test_wake_only_on_an_awaited_entry(store: LifecycleStore) -> None:
    claim = await started(store, "inv")
    await store.commit(
        step(claim, entries=[Entry(0, EntryKind.SLEEP), Entry(1, EntryKind.SLEEP)], transition=Suspend([1]))
    )
    first = await store.complete_entry(EntryRef("inv", 0), Outcome(), T0 + 1)
    assert first.claims == [] and first.deliveries == []
    second = await store.complete_entry(EntryRef("inv", 1), Outcome(), T0 + 2)
    assert [c.record.id for c in second.claims] == ["inv"]
    assert [e.outcome for e in second.claims[0].journal] == [Outcome(), Outcome()]


async def test_retry_then_retry_timer_claims_again(store: LifecycleStore) -> None:
    claim = await started(store, "inv")
    result = await store.commit(step(claim, T0 + 1, transition=Retry(T0 + 500, "boom")))
    assert result.effects.next_timer_ms == T0 + 500
    record = await store.get_invocation("inv")
    assert record is not None
    assert record.status == Status.BACKING_OFF
    assert record.attempts == 1 and record.last_failure == "boom" and record.run_at_ms == T0 + 500
    assert await store.begin_attempt("inv", T0 + 2) is None
    assert (await store.fire_due_timers(T0 + 499, 10)).claims == []
    fired = await store.fire_due_timers(T0 + 500, 10)
    [again] = fired.claims
    assert again.record.epoch == 2 and again.record.attempts == 1


async def test_pause(store: LifecycleStore) -> None:
    claim = await started(store, "inv")
    await store.commit(step(claim, transition=Pause("gave up")))
    record = await store.get_invocation("inv")
    assert record is not None
    assert record.status == Status.PAUSED and record.attempts == 1 and record.last_failure == "gave up"
    assert await store.begin_attempt("inv", T0) is None
    assert [r.id for r in await store.list_invocations(status=Status.PAUSED)] == ["inv"]


async def test_purge_deletes_the_invocation_but_not_the_objects_state(store: LifecycleStore) -> None:
    claim = await started(store, "inv", service="Obj", key="k", exclusive=True, retention=1000)
    await with_awakeable(store, "other")  # untouched
    await store.commit(
        step(claim, entries=[Entry(0, EntryKind.SET_STATE)], state=[StateOp("s", b"1")], transition=None)
    )
    await store.commit(step(claim, T0 + 10, transition=Complete(Outcome())))
    assert (await store.fire_due_timers(T0 + 1009, 10)).claims == []
    assert await store.get_invocation("inv") is not None
    await store.fire_due_timers(T0 + 1010, 10)
    assert await store.get_invocation("inv") is None
    assert await store.get_journal("inv") == []
    assert await store.get_state("Obj", "k") == {"s": b"1"}
    assert await store.get_invocation("other") is not None
    # The id can be used again.
    assert (await store.create_invocation(new_inv("inv", now=T0 + 2000))).created


# -- sleeps and complete_entry -------------------------------------------------------------------
async def test_sleep_timer_wakes_the_sleeper(store: LifecycleStore) -> None:
    claim = await started(store, "inv")
    result = await store.commit(
        step(
            claim,
            entries=[Entry(0, EntryKind.SLEEP, data={"until": T0 + 100})],
            sleeps=[(0, T0 + 100)],
            transition=Suspend([0]),
        )
    )
    assert result.effects.next_timer_ms == T0 + 100
    fired = await store.fire_due_timers(T0 + 100, 10)
    [woken] = fired.claims
    assert woken.journal[0].outcome == Outcome()
    assert woken.record.epoch == 2


async def test_complete_entry_removes_the_sleep_timer_and_is_idempotent(store: LifecycleStore) -> None:
    claim = await started(store, "inv")
    await store.commit(step(claim, entries=[Entry(0, EntryKind.SLEEP)], sleeps=[(0, T0 + 100)]))
    effects = await store.complete_entry(EntryRef("inv", 0), Outcome(), T0 + 100)
    assert effects.deliveries[0].invocation_id == "inv" and effects.claims == []
    assert await store.next_timer_ms() is None
    again = await store.complete_entry(EntryRef("inv", 0), Outcome(b"x"), T0 + 101)
    assert again.claims == [] and again.deliveries == []
    assert (await store.get_journal("inv"))[0].outcome == Outcome()
    missing = await store.complete_entry(EntryRef("nope", 3), Outcome(), T0)
    assert missing.claims == [] and missing.deliveries == []


async def test_completion_of_a_backing_off_invocation_is_stored_for_its_replay(store: LifecycleStore) -> None:
    claim = await started(store, "inv")
    await store.commit(step(claim, entries=[Entry(0, EntryKind.SLEEP)], transition=Retry(T0 + 10, "x")))
    effects = await store.complete_entry(EntryRef("inv", 0), Outcome(), T0 + 1)
    assert effects.claims == [] and effects.deliveries == []
    [again] = (await store.fire_due_timers(T0 + 10, 10)).claims
    assert again.journal[0].outcome == Outcome()


# -- group commit --------------------------------------------------------------------------------
async def test_concurrent_writes_share_transactions(store: LifecycleStore) -> None:
    before = store.stats()
    results = await asyncio.gather(*(store.create_invocation(new_inv(f"inv-{i:03}")) for i in range(200)))
    assert all(r.created and len(r.effects.claims) == 1 for r in results)
    stats = store.stats()
    batches = stats["batches_committed"] - before["batches_committed"]
    ops = stats["ops_committed"] - before["ops_committed"]
    assert ops == 200
    assert batches < ops
    rows = await store.list_invocations(limit=1000)
    assert sorted(r.id for r in rows) == [f"inv-{i:03}" for i in range(200)]


async def test_a_failing_write_does_not_fail_its_batch(store: LifecycleStore) -> None:
    claims = [await started(store, f"inv-{i}") for i in range(20)]
    stale = await started(store, "stale")
    await store.begin_attempt("stale", T0)  # its epoch moves on
    writes = [store.commit(step(c, entries=[Entry(0, EntryKind.RUN, outcome=Outcome(b"1"))])) for c in claims]
    writes.insert(10, store.commit(step(stale, entries=[Entry(0, EntryKind.RUN)])))
    results = await asyncio.gather(*writes, return_exceptions=True)
    assert isinstance(results[10], Conflict)
    assert not any(isinstance(r, BaseException) for i, r in enumerate(results) if i != 10)
    for c in claims:
        assert (await store.get_journal(c.record.id))[0].outcome == Outcome(b"1")
    assert await store.get_journal("stale") == []
    assert store.stats()["ops_failed"] >= 1


# -- durability, recovery, migrations ------------------------------------------------------------
async def test_reopen_keeps_everything_and_recover_claims_orphans(open_store: StoreFactory) -> None:
    store = await open_store()
    running = await started(store, "running", service="Obj", key="k", exclusive=True)
    await store.commit(step(running, entries=[Entry(0, EntryKind.RUN, "r", outcome=Outcome(b"5"))]))
    await store.commit(step(running, state=[StateOp("s", b"1")]))
    await store.create_invocation(new_inv("queued", service="Obj", key="k", exclusive=True))
    sleeper = await started(store, "sleeper")
    await store.commit(step(sleeper, entries=[Entry(0, EntryKind.SLEEP)], sleeps=[(0, T0 + 9)]))
    await store.commit(step(sleeper, transition=Suspend([0])))
    await with_awakeable(store, "aw", "sign_1x", schema={"type": "string"})
    await store.close()  # type: ignore[attr-defined]
    await store.close()  # type: ignore[attr-defined]  # idempotent
    with pytest.raises(StorageError):
        await store.get_invocation("running")

    again = await open_store()
    assert (await again.get_invocation("queued")).status == Status.PENDING  # type: ignore[union-attr]
    assert (await again.get_journal("running"))[0].outcome == Outcome(b"5")
    assert await again.next_timer_ms() == T0 + 9
    assert [a.schema for a in await again.list_awakeables()] == [{"type": "string"}]
    # Past the lease of the attempt from before the restart: its invocation is an orphan.
    claims = await again.recover(T0 + 10_000)
    assert [c.record.id for c in claims] == ["running"]
    [claim] = claims
    assert claim.record.epoch == 2 and claim.state == {"s": b"1"}
    assert claim.record.node == again.node_id != store.node_id
    assert claim.journal[0].outcome == Outcome(b"5")
    with pytest.raises(Fenced):  # the attempt from before the restart is fenced off
        await again.commit(step(running))
    done = await again.commit(step(claim, transition=Complete(Outcome())))
    assert [c.record.id for c in done.effects.claims] == ["queued"]
    assert await again.recover(T0 + 20_000) == []  # nothing else is orphaned


async def test_begin_attempt(store: LifecycleStore) -> None:
    claim = await started(store, "inv")
    again = await store.begin_attempt("inv", T0 + 1)
    assert again is not None and again.record.epoch == claim.record.epoch + 1
    await store.commit(step(again, transition=Suspend([0])))
    assert await store.begin_attempt("inv", T0 + 2) is None
    assert await store.begin_attempt("missing", T0) is None


async def test_list_invocations_filters(store: LifecycleStore) -> None:
    await started(store, "a", service="S1")
    await started(store, "b", service="S2", now=T0 + 1)
    c = await started(store, "c", service="S1", now=T0 + 2)
    await store.commit(step(c, transition=Complete(Outcome())))
    assert [r.id for r in await store.list_invocations()] == ["c", "b", "a"]
    assert [r.id for r in await store.list_invocations(service="S1")] == ["c", "a"]
    assert [r.id for r in await store.list_invocations(status=Status.RUNNING)] == ["b", "a"]
    assert [r.id for r in await store.list_invocations(status=Status.RUNNING, service="S1")] == ["a"]
    assert len(await store.list_invocations(limit=2)) == 2


# -- large state values ---------------------------------------------------------------------------
async def test_a_claim_loads_small_values_and_names_the_large_ones(store: LifecycleStore) -> None:
    big = b"x" * (LARGE_VALUE + 1)
    owner = await started(store, "w", service="Obj", key="k", exclusive=True)
    await store.commit(step(owner, state=[StateOp("big", big), StateOp("small", b"1")]))
    await store.commit(step(owner, transition=Complete(Outcome())))
    claim = await started(store, "r", service="Obj", key="k", exclusive=True)
    assert claim.state == {"small": b"1"} and claim.lazy_state == frozenset({"big"})
    assert await store.get_state_value("Obj", "k", "big") == big
    assert await store.get_state_value("Obj", "k", "none") is None


async def test_a_capture_copies_the_value_a_read_saw_before_the_write(store: LifecycleStore) -> None:
    claim = await started(store, "inv", service="Obj", key="k", exclusive=True)
    await store.commit(step(claim, state=[StateOp("v", b'"old"')]))
    read = Entry(0, EntryKind.GET_STATE, "v", {"ref": True}, outcome=Outcome())
    write = Entry(1, EntryKind.SET_STATE, "v", {"size": 5})
    await store.commit(
        step(claim, entries=[read, write], captures=[(0, "v")], state=[StateOp("v", b'"new"')])
    )
    journal = await store.get_journal("inv")
    assert journal[0].outcome == Outcome(b'"old"') and journal[0].data == {}
    assert await store.get_state("Obj", "k") == {"v": b'"new"'}


async def test_a_last_step_and_its_entry_land_together_or_not_at_all(store: LifecycleStore) -> None:
    """The usual end of an attempt: one new entry and the completion (one statement where the
    dialect can). A stale attempt writes neither; the current one writes both, and an outcome
    stored from outside is not replaced by the attempt's copy."""
    first = await started(store, "inv")
    second = await store.begin_attempt("inv", T0 + 1)
    assert second is not None
    last = Entry(0, EntryKind.RUN, "r", outcome=Outcome(b"stale"))
    with pytest.raises(Fenced):
        await store.commit(step(first, entries=[last], transition=Complete(Outcome(b"stale"))))
    assert await store.get_journal("inv") == []
    assert (await store.get_invocation("inv")).status == Status.RUNNING  # type: ignore[union-attr]
    await store.commit(step(second, entries=[Entry(0, EntryKind.RUN, "r", outcome=Outcome(b"kept"))]))
    ended = Entry(0, EntryKind.RUN, "r", outcome=Outcome(b"copy"))
    await store.commit(step(second, entries=[ended], transition=Complete(Outcome(b"out"))))
    done = await store.get_invocation("inv")
    assert done is not None and done.status == Status.COMPLETED and done.outcome == Outcome(b"out")
    assert [(e.index, e.outcome) for e in await store.get_journal("inv")] == [(0, Outcome(b"kept"))]
    other = await started(store, "inv-2")
    await store.commit(step(other, entries=[Entry(0, EntryKind.RUN, "s", outcome=Outcome(b"2"))],
                            transition=Complete(Outcome(b"3"))))  # fmt: skip
    assert [(e.index, e.name, e.outcome) for e in await store.get_journal("inv-2")] == [
        (0, "s", Outcome(b"2"))
    ]
