"""Contract tests of the reads the admin API's web UI makes: each journal entry's times, and the
counts per status under the list's filters (every backend, real databases)."""

from __future__ import annotations

from awaken.core.journal import Entry, EntryKind, Outcome
from awaken.storage.lifecycle.store import LifecycleStore
from awaken.storage.protocol import Complete, EntryRef, EntryTimes, InvocationFilter, Status
from tests.contract.support import T0, started, step, with_awakeable


async def test_journal_times_are_when_an_entry_was_appended_and_completed(store: LifecycleStore) -> None:
    claim = await with_awakeable(store, "inv", "sign_1t", suspend=False)
    run = Entry(1, EntryKind.RUN, "charge", outcome=Outcome(b"1"))
    await store.commit(step(claim, now=T0 + 40, entries=[run]))
    assert await store.get_journal_times("inv") == [
        EntryTimes(0, T0, None),  # the awakeable waits: appended, not completed
        EntryTimes(1, T0 + 40, T0 + 40),  # a step is appended with its result
    ]
    await store.complete_entry(EntryRef("inv", 0), Outcome(b'"ok"'), T0 + 900)
    times = await store.get_journal_times("inv")
    assert times[0] == EntryTimes(0, T0, T0 + 900)
    # an entry written again (an attempt's copy of it) keeps when it was first appended
    again = Entry(0, EntryKind.AWAKEABLE, data={"id": "sign_1t"})
    await store.commit(step(claim, now=T0 + 1000, entries=[again]))
    assert (await store.get_journal_times("inv"))[0] == EntryTimes(0, T0, T0 + 900)
    assert await store.get_journal_times("missing") == []


async def test_counts_follow_the_filters_but_not_a_status(store: LifecycleStore) -> None:
    await started(store, "a", service="S1", handler="h1")
    await started(store, "b", service="S1", handler="h2", now=T0 + 1)
    c = await started(store, "c", service="S1", handler="h1", now=T0 + 2)
    await store.commit(step(c, transition=Complete(Outcome())))
    await started(store, "d", service="S2", key="k", now=T0 + 3)
    assert await store.count_invocations() == {Status.RUNNING: 3, Status.COMPLETED: 1}
    assert await store.count_invocations(InvocationFilter(service="S1")) == {
        Status.RUNNING: 2,
        Status.COMPLETED: 1,
    }
    assert await store.count_invocations(InvocationFilter(service="S1", handler="h1")) == {
        Status.RUNNING: 1,
        Status.COMPLETED: 1,
    }
    assert await store.count_invocations(InvocationFilter(key="k")) == {Status.RUNNING: 1}
    assert await store.count_invocations(InvocationFilter(created_after_ms=T0 + 2)) == {
        Status.RUNNING: 1,
        Status.COMPLETED: 1,
    }
    assert await store.count_invocations(InvocationFilter(created_before_ms=T0 + 1)) == {Status.RUNNING: 1}
    only_done = InvocationFilter(status=frozenset({Status.COMPLETED}), service="S1")
    assert await store.count_invocations(only_done) == await store.count_invocations(
        InvocationFilter(service="S1")
    )
    assert await store.count_invocations(InvocationFilter(service="none")) == {}
