"""Contract tests of the stores: named signals (a queue per invocation and name, kept until
awaited, delivered in order of arrival, waking suspended receivers, dropped for ended targets)."""

from __future__ import annotations

from awaken.core.journal import Entry, EntryKind, Outcome
from awaken.storage.lifecycle.store import LifecycleStore
from awaken.storage.protocol import (
    Claim,
    Complete,
    Delivery,
    ProgressResult,
    SignalOp,
    Status,
    Suspend,
    Transition,
)
from tests.contract.support import T0, new_inv, started, step


def _await(index: int, name: str, ordinal: int) -> tuple[Entry, SignalOp]:
    return Entry(index, EntryKind.SIGNAL, name, {"ordinal": ordinal}), SignalOp(index, "await", name, ordinal)


def _send(index: int, target: str, name: str, outcome: Outcome) -> tuple[Entry, SignalOp]:
    entry = Entry(index, EntryKind.SEND_SIGNAL, name, {"invocation_id": target}, outcome.value, Outcome())
    return entry, SignalOp(index, "send", name, target=target, outcome=outcome)


async def _commit(
    store: LifecycleStore, claim: Claim, ops: list[tuple[Entry, SignalOp]], transition: Transition = None
) -> ProgressResult:
    entries, signals = [e for e, _ in ops], [s for _, s in ops]
    return await store.commit(step(claim, entries=entries, signals=signals, transition=transition))


async def _sender(store: LifecycleStore, id: str = "sender") -> Claim:
    return await started(store, id)


async def test_a_signal_sent_before_the_await_is_kept_for_it(store: LifecycleStore) -> None:
    receiver = await started(store, "recv")
    sender = await _sender(store)
    sent = await _commit(store, sender, [_send(0, "recv", "approve", Outcome(b'"yes"'))])
    assert sent.effects.empty()  # nobody waits yet: nothing to wake
    assert (await store.get_journal("sender"))[0].outcome == Outcome()
    got = await _commit(store, receiver, [_await(0, "approve", 1)])
    assert got.entry_outcomes == {0: Outcome(b'"yes"')}
    assert (await store.get_journal("recv"))[0].outcome == Outcome(b'"yes"')


async def test_the_kth_await_of_a_name_gets_the_kth_signal_of_that_name(store: LifecycleStore) -> None:
    receiver = await started(store, "recv")
    sender = await _sender(store)
    await _commit(
        store,
        sender,
        [
            _send(0, "recv", "x", Outcome(b"1")),
            _send(1, "recv", "y", Outcome(b"10")),
            _send(2, "recv", "x", Outcome(b"2")),
        ],
    )
    early = await _commit(store, receiver, [_await(0, "x", 1), _await(1, "x", 2), _await(2, "x", 3)])
    assert early.entry_outcomes == {0: Outcome(b"1"), 1: Outcome(b"2")}  # the third is not there yet
    late = await _commit(store, sender, [_send(3, "recv", "x", Outcome.fail(403, "no"))])
    assert late.effects.deliveries == [Delivery("recv", 2, Outcome.fail(403, "no"))]
    other = await _commit(store, receiver, [_await(3, "y", 1), _await(4, "y", 2)])
    assert other.entry_outcomes == {3: Outcome(b"10")}
    journal = await store.get_journal("recv")
    assert [e.outcome for e in journal] == [
        Outcome(b"1"),
        Outcome(b"2"),
        Outcome.fail(403, "no"),
        Outcome(b"10"),
        None,
    ]


async def test_waiting_awaits_are_completed_in_order_of_arrival(store: LifecycleStore) -> None:
    receiver = await started(store, "recv")
    await _commit(store, receiver, [_await(0, "s", 1), _await(1, "s", 2)])
    sender = await _sender(store)
    first = await _commit(store, sender, [_send(0, "recv", "s", Outcome(b"a"))])
    second = await _commit(store, sender, [_send(1, "recv", "s", Outcome(b"b"))])
    assert first.effects.deliveries == [Delivery("recv", 0, Outcome(b"a"))]
    assert second.effects.deliveries == [Delivery("recv", 1, Outcome(b"b"))]


async def test_a_signal_wakes_a_suspended_receiver(store: LifecycleStore) -> None:
    receiver = await started(store, "recv")
    await _commit(store, receiver, [_await(0, "approve", 1)], transition=Suspend([0]))
    assert (await store.get_invocation("recv")).status == Status.SUSPENDED  # type: ignore[union-attr]
    sender = await _sender(store)
    sent = await _commit(store, sender, [_send(0, "recv", "approve", Outcome.fail(409, "rejected"))])
    [woken] = sent.effects.claims
    assert woken.record.id == "recv" and woken.record.epoch == receiver.record.epoch + 1
    assert woken.journal[0].outcome == Outcome.fail(409, "rejected")


async def test_a_signal_of_another_name_leaves_a_suspended_receiver_asleep(store: LifecycleStore) -> None:
    receiver = await started(store, "recv")
    await _commit(store, receiver, [_await(0, "approve", 1)], transition=Suspend([0]))
    sender = await _sender(store)
    sent = await _commit(store, sender, [_send(0, "recv", "other", Outcome(b"1"))])
    assert sent.effects.empty()
    assert (await store.get_invocation("recv")).status == Status.SUSPENDED  # type: ignore[union-attr]


async def test_signals_to_unknown_or_completed_invocations_are_dropped(store: LifecycleStore) -> None:
    done = await started(store, "done")
    await store.commit(step(done, transition=Complete(Outcome(b"1"))))
    sender = await _sender(store)
    sent = await _commit(
        store,
        sender,
        [_send(0, "done", "s", Outcome(b"x")), _send(1, "later", "s", Outcome(b"y"))],
    )
    assert sent.effects.empty()
    assert [e.outcome for e in await store.get_journal("sender")] == [Outcome(), Outcome()]
    # An invocation created afterwards with the id the signal was sent to did not get it.
    later = await started(store, "later")
    waited = await _commit(store, later, [_await(0, "s", 1)])
    assert waited.entry_outcomes == {}


async def test_an_invocation_signals_itself(store: LifecycleStore) -> None:
    inv = await started(store, "self")
    # awaited first, sent in the same step: the waiting entry gets it as a delivery
    first = await _commit(store, inv, [_await(0, "s", 1), _send(1, "self", "s", Outcome(b"1"))])
    assert first.effects.deliveries == [Delivery("self", 0, Outcome(b"1"))]
    # sent first, awaited in the same step: known at once
    second = await _commit(store, inv, [_send(2, "self", "s", Outcome(b"2")), _await(3, "s", 2)])
    assert second.entry_outcomes == {3: Outcome(b"2")}
    assert [e.outcome for e in await store.get_journal("self")] == [
        Outcome(b"1"),
        Outcome(),
        Outcome(),
        Outcome(b"2"),
    ]


async def test_a_signal_for_a_queued_invocation_waits_for_its_await(store: LifecycleStore) -> None:
    holder = await started(store, "holder", service="Obj", key="k", exclusive=True)
    queued = await store.create_invocation(
        new_inv("queued", service="Obj", key="k", exclusive=True)  # pending behind the key lock
    )
    assert queued.record.status == Status.PENDING
    sender = await _sender(store)
    assert (await _commit(store, sender, [_send(0, "queued", "go", Outcome(b"1"))])).effects.empty()
    ended = await store.commit(step(holder, transition=Complete(Outcome())))
    [claim] = ended.effects.claims
    assert claim.record.id == "queued"
    got = await _commit(store, claim, [_await(0, "go", 1)])
    assert got.entry_outcomes == {0: Outcome(b"1")}


async def test_purging_an_invocation_drops_its_signals(store: LifecycleStore) -> None:
    inv = await started(store, "inv", retention=1000)
    sender = await _sender(store)
    await _commit(store, sender, [_send(0, "inv", "s", Outcome(b"1")), _send(1, "inv", "s", Outcome(b"2"))])
    await _commit(store, inv, [_await(0, "s", 1)])
    await store.commit(step(inv, T0 + 10, transition=Complete(Outcome())))
    await store.fire_due_timers(T0 + 2000, 10)
    assert await store.get_invocation("inv") is None
    # The id used again (an idempotency key, a workflow key): a fresh queue.
    again = await started(store, "inv", now=T0 + 3000)
    waited = await _commit(store, again, [_await(0, "s", 1)])
    assert waited.entry_outcomes == {}
