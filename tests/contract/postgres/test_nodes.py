"""Several nodes on one PostgreSQL database: two (or more) real stores, each its own node with its
own connections, writing to the same tables at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from awaken.core.journal import Entry, EntryKind, Outcome
from awaken.errors import Fenced, NotFound
from awaken.storage.lifecycle.store import LifecycleStore
from awaken.storage.protocol import (
    Complete,
    Notice,
    NoticeKind,
    Progress,
    Status,
    Suspend,
)
from tests.contract.conftest import StoreFactory
from tests.contract.support import T0, new_inv, started, step, with_awakeable

LEASE = 3_000


async def notices_of(store: LifecycleStore) -> list[Notice]:
    got: list[Notice] = []
    store.subscribe(got.append)
    return got


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


async def test_an_expired_lease_is_taken_over_and_the_old_attempt_is_fenced(open_store: StoreFactory) -> None:
    a, b = await open_store(lease_ms=LEASE), await open_store(lease_ms=LEASE)
    claim = await started(a, "inv")
    assert claim.record.node == a.node_id and claim.record.lease_until_ms == T0 + LEASE
    # A live lease is not taken, not at start-up either.
    assert await b.claim_orphans(T0 + LEASE - 1, 10) == []
    assert await b.recover(T0 + LEASE - 1) == []
    assert await b.begin_attempt("inv", T0 + 1) is None
    # Renewed, it lives on.
    assert await a.renew_leases(["inv"], T0 + 2_000) == {"inv"}
    assert await b.claim_orphans(T0 + LEASE + 1, 10) == []
    # Expired: b takes it, a can write nothing more and learns it at its next renewal.
    [taken] = await b.claim_orphans(T0 + 2_000 + LEASE + 1, 10)
    assert taken.record.epoch == claim.record.epoch + 1 and taken.record.node == b.node_id
    with pytest.raises(Fenced):
        await a.commit(step(claim, entries=[Entry(0, EntryKind.RUN, "r", outcome=Outcome(b"1"))]))
    assert await a.renew_leases(["inv"], T0 + 6_000) == set()
    assert await b.renew_leases(["inv"], T0 + 6_000) == {"inv"}
    done = await b.commit(step(taken, entries=[Entry(0, EntryKind.RUN, "r", outcome=Outcome(b"2"))]))
    assert done.effects.empty()
    assert [e.outcome for e in await a.get_journal("inv")] == [Outcome(b"2")]


async def test_two_nodes_take_over_disjoint_orphans(open_store: StoreFactory) -> None:
    dead = await open_store(lease_ms=LEASE)
    for i in range(40):
        await started(dead, f"inv-{i:02}")
    b, c = await open_store(lease_ms=LEASE), await open_store(lease_ms=LEASE)
    later = T0 + LEASE + 1
    first, second = await asyncio.gather(b.claim_orphans(later, 25), c.claim_orphans(later, 25))
    ids = [x.record.id for x in first + second]
    assert sorted(ids) == [f"inv-{i:02}" for i in range(40)]  # each once, none twice
    assert {x.record.node for x in first} <= {b.node_id} and {x.record.node for x in second} <= {c.node_id}


async def test_a_completion_on_one_node_reaches_the_attempt_running_on_another(
    open_store: StoreFactory,
) -> None:
    a, b = await open_store(), await open_store()
    got = await notices_of(a)
    claim = await with_awakeable(a, "inv", "sign_1aw", suspend=False)
    result = await b.complete_awakeable("sign_1aw", Outcome(b'"ok"'), T0 + 1, lambda s, p: [])
    # b hands nothing to itself: the attempt runs on a, which hears of it.
    assert result.effects.deliveries == [] and result.effects.claims == []
    # The notice carries the (small) outcome: no read needed on a.
    await until(lambda: Notice(NoticeKind.DELIVER, "inv", 0, Outcome(b'"ok"')) in got)
    assert await a.get_entry_outcome("inv", 0) == Outcome(b'"ok"')
    # ... and a suspension that comes too late resumes at once instead of sleeping on it.
    resumed = await a.commit(step(claim, transition=Suspend([0])))
    assert resumed.resumed is not None and resumed.resumed.journal[0].outcome == Outcome(b'"ok"')


async def test_a_completion_wakes_a_suspended_invocation_on_the_completing_node(
    open_store: StoreFactory,
) -> None:
    a, b = await open_store(), await open_store()
    await with_awakeable(a, "inv", "sign_1aw")  # suspended on entry 0
    result = await b.complete_awakeable("sign_1aw", Outcome(b"1"), T0 + 1, lambda s, p: [])
    [claim] = result.effects.claims
    assert claim.record.node == b.node_id and claim.journal[0].outcome == Outcome(b"1")


async def test_a_completion_is_told_to_the_node_that_created_the_invocation(open_store: StoreFactory) -> None:
    """Callers wait in memory on the node whose ingress created an invocation: when another node
    completes it, that node is told, and no other."""
    a, b, c = [await open_store(lease_ms=LEASE) for _ in range(3)]
    got_a, got_b, got_c = await notices_of(a), await notices_of(b), await notices_of(c)
    mine = [await started(b, f"b-{i}") for i in range(3)]
    await asyncio.gather(*(b.commit(step(x, transition=Complete(Outcome(b"7")))) for x in mine))
    await started(a, "from-a")  # a's attempt dies with a: b takes it over after the lease
    [taken] = await b.claim_orphans(T0 + LEASE + 1, 10)
    assert taken.record.id == "from-a" and taken.record.origin_node == a.node_id
    await b.commit(step(taken, T0 + LEASE + 2, transition=Complete(Outcome(b"8"))))
    await until(lambda: Notice(NoticeKind.COMPLETED, "from-a") in got_a)
    assert await a.get_outcomes(["from-a", "b-0", "nope"]) == {"from-a": Outcome(b"8"), "b-0": Outcome(b"7")}
    assert Notice(NoticeKind.COMPLETED, "b-0") not in got_a  # created and completed on b
    assert not any(n.kind is NoticeKind.COMPLETED for n in got_b + got_c)


async def test_a_watched_invocation_is_announced_to_every_node(open_store: StoreFactory) -> None:
    """A node that attaches to an invocation another node created asks for its completion to be
    announced: every node hears of it from then on."""
    a, b = await open_store(), await open_store()
    got_a = await notices_of(a)
    claim = await started(b, "inv")
    assert await a.watch_invocation("inv") is None  # not completed yet: now watched
    await b.commit(step(claim, transition=Complete(Outcome(b"9"))))
    await until(lambda: Notice(NoticeKind.COMPLETED, "inv") in got_a)
    assert await a.watch_invocation("inv") == Outcome(b"9")  # completed: the outcome at once
    with pytest.raises(NotFound):
        await a.watch_invocation("nope")


async def test_cancel_and_pause_reach_the_node_that_runs_the_attempt(open_store: StoreFactory) -> None:
    a, b = await open_store(), await open_store()
    got = await notices_of(a)
    await started(a, "to-cancel")
    await started(a, "to-pause")
    cancelled = await b.cancel_invocation("to-cancel", False, T0 + 1)
    assert not cancelled.done and cancelled.effects.cancels == []
    await b.pause_invocation("to-pause", T0 + 1)
    await until(
        lambda: {Notice(NoticeKind.CANCEL, "to-cancel"), Notice(NoticeKind.ABORT, "to-pause")} <= set(got)
    )
    assert (await a.get_invocation("to-pause")).status == Status.PAUSED  # type: ignore[union-attr]
    assert await a.renew_leases(["to-cancel", "to-pause"], T0 + 2) == {"to-cancel"}


async def test_a_due_timer_fires_once_when_every_node_fires_timers(open_store: StoreFactory) -> None:
    nodes = [await open_store() for _ in range(3)]
    for i in range(30):
        claim = await started(nodes[0], f"sleeper-{i:02}")
        progress = step(
            claim, entries=[Entry(0, EntryKind.SLEEP)], sleeps=[(0, T0 + 10)], transition=Suspend([0])
        )
        await nodes[0].commit(progress)
    for i in range(10):
        await nodes[1].create_invocation(new_inv(f"later-{i}", run_at=T0 + 10))
    fired = await asyncio.gather(*(n.fire_due_timers(T0 + 10, 100) for n in nodes))
    woken = [c.record.id for effects in fired for c in effects.claims]
    assert sorted(woken) == sorted([f"sleeper-{i:02}" for i in range(30)] + [f"later-{i}" for i in range(10)])
    assert await nodes[2].next_timer_ms() is None  # all gone (a node may have seen others' as due)
    assert (await asyncio.gather(*(n.fire_due_timers(T0 + 20, 100) for n in nodes)))[0].claims == []


async def test_a_key_lock_and_its_inbox_order_hold_across_nodes(open_store: StoreFactory) -> None:
    a, b = await open_store(), await open_store()
    holder = await started(a, "first", service="Obj", key="k", exclusive=True)
    # Creates race on both nodes: every one queues, in the order the database numbered them.
    creates = [
        (a if i % 2 else b).create_invocation(
            new_inv(f"q-{i:02}", service="Obj", key="k", exclusive=True, now=T0 + i)
        )
        for i in range(20)
    ]
    results = await asyncio.gather(*creates)
    assert all(r.created and r.effects.claims == [] and r.record.status == Status.PENDING for r in results)
    queued = sorted(await a.list_invocations(status=Status.PENDING, limit=100), key=lambda r: r.id)
    assert len(queued) == 20
    order = []
    claim, store = holder, a
    while True:
        done = await store.commit(
            Progress(claim.record.id, claim.record.epoch, T0 + 100, transition=Complete(Outcome()))
        )
        if not done.effects.claims:
            break
        [claim] = done.effects.claims
        order.append(claim.record.id)
        store = b if store is a else a  # whoever completes hands the key on
    assert sorted(order) == [f"q-{i:02}" for i in range(20)] and len(set(order)) == 20
    assert await a.list_invocations(status=Status.RUNNING) == []


async def test_a_release_racing_new_creates_never_strands_one(open_store: StoreFactory) -> None:
    # The holder completes on one node while another node queues new calls for the key: each new
    # call either runs next or waits in the queue, and the queue drains to the end.
    a, b = await open_store(), await open_store()
    for round_ in range(10):
        holder = await started(a, f"h-{round_}", service="Obj", key=f"k{round_}", exclusive=True)
        done, *created = await asyncio.gather(
            a.commit(step(holder, transition=Complete(Outcome()))),
            *(
                b.create_invocation(
                    new_inv(f"n-{round_}-{i}", service="Obj", key=f"k{round_}", exclusive=True)
                )
                for i in range(3)
            ),
        )
        running = [c for c in done.effects.claims] + [c for r in created for c in r.effects.claims]
        seen = 0
        while running:
            assert len(running) == 1, "two exclusive invocations of one key run at once"
            [claim] = running
            seen += 1
            store = a if claim.record.node == a.node_id else b
            running = list((await store.commit(step(claim, transition=Complete(Outcome())))).effects.claims)
        assert seen == 3
