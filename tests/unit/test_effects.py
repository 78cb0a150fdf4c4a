"""What the new entries of a local journal ask of the store (core.effects), and how a local
attempt's end tells the store what is left open."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from awaken.core.effects import (
    AwakeableCompletionRequest,
    Complete,
    EntryRef,
    NewAwakeable,
    NewInvocation,
    PromiseOp,
    SignalOp,
    StateOp,
    StepEffects,
    completion,
    entry_effects,
    start_delay_ms,
)
from awaken.core.journal import LARGE_VALUE, Entry, EntryKind, Outcome
from awaken.storage import protocol as storage


def child_of(entry: Entry) -> NewInvocation:
    return NewInvocation(
        id=f"inv_{entry.index}",
        service=entry.data["service"],
        handler=entry.data["handler"],
        key=None,
        exclusive=False,
        input=entry.payload or b"",
        headers={},
        now_ms=0,
        retention_ms=0,
        caller=EntryRef("caller", entry.index) if entry.kind is EntryKind.CALL else None,
    )


def no_child(entry: Entry) -> NewInvocation | None:
    return None


def effects_of(
    entries: list[Entry], written: int = 0, child: Callable[[Entry], NewInvocation | None] = child_of
) -> tuple[StepEffects, tuple[Entry, ...]]:
    effects = StepEffects()
    completed = entry_effects(entries, written, effects, child)
    return effects, completed


def test_state_entries_set_clear_and_clear_all_in_journal_order() -> None:
    effects, _ = effects_of(
        [
            Entry(0, EntryKind.SET_STATE, "a", payload=b"1"),
            Entry(1, EntryKind.CLEAR_STATE, "b"),
            Entry(2, EntryKind.SET_STATE, "c"),  # no payload: an empty value, not a clear
            Entry(3, EntryKind.CLEAR_ALL_STATE),
        ]
    )
    assert effects.state == [StateOp("a", b"1"), StateOp("b", None), StateOp("c", b""), StateOp(None, None)]


def test_a_large_state_value_is_stored_as_its_size_and_still_set() -> None:
    big = b"x" * (LARGE_VALUE + 1)
    small = b"y" * LARGE_VALUE
    entries = [
        Entry(0, EntryKind.SET_STATE, "big", payload=big),
        Entry(1, EntryKind.SET_STATE, "s", payload=small),
    ]
    effects, _ = effects_of(entries)
    assert effects.state == [StateOp("big", big), StateOp("s", small)]
    assert entries[0] == Entry(0, EntryKind.SET_STATE, "big", {"size": LARGE_VALUE + 1})
    assert entries[1].payload == small  # at the limit: kept as it is


def test_timers_awakeables_attaches_and_cancels() -> None:
    effects, _ = effects_of(
        [
            Entry(0, EntryKind.SLEEP, data={"wake_at": 1234.0}),
            Entry(
                1, EntryKind.AWAKEABLE, data={"id": "sign_1", "deadline": 99, "schema": {"type": "string"}}
            ),
            Entry(2, EntryKind.AWAKEABLE, data={"id": "sign_2"}),
            Entry(3, EntryKind.ATTACH, "inv_target"),
            Entry(4, EntryKind.CANCEL, "inv_victim"),
        ]
    )
    assert effects.sleeps == [(0, 1234)] and isinstance(effects.sleeps[0][1], int)
    assert effects.awakeables == [
        NewAwakeable("sign_1", 1, 99, {"type": "string"}),
        NewAwakeable("sign_2", 2, None, None),
    ]
    assert effects.attaches == [(3, "inv_target")]
    assert effects.cancels == ["inv_victim"]


def test_promises_signals_and_awakeable_completions_carry_their_outcomes() -> None:
    effects, _ = effects_of(
        [
            Entry(0, EntryKind.GET_PROMISE, "p"),
            Entry(1, EntryKind.PEEK_PROMISE, "p"),
            Entry(2, EntryKind.COMPLETE_PROMISE, "p", payload=b'"ok"'),
            Entry(3, EntryKind.COMPLETE_PROMISE, "q", data={"code": 418, "message": "teapot"}),
            Entry(4, EntryKind.SIGNAL, "go", data={"ordinal": 2}),
            Entry(5, EntryKind.SEND_SIGNAL, "go", data={"invocation_id": "inv_t"}, payload=b"1"),
            Entry(6, EntryKind.COMPLETE_AWAKEABLE, "sign_x", data={"code": 500, "message": "no"}),
            Entry(7, EntryKind.COMPLETE_AWAKEABLE, "sign_y", payload=b"2"),
        ]
    )
    assert effects.promises == [
        PromiseOp(0, "get", "p"),
        PromiseOp(1, "peek", "p"),
        PromiseOp(2, "complete", "p", Outcome(b'"ok"')),
        PromiseOp(3, "complete", "q", Outcome.fail(418, "teapot")),
    ]
    assert effects.signals == [
        SignalOp(4, "await", "go", ordinal=2),
        SignalOp(5, "send", "go", target="inv_t", outcome=Outcome(b"1")),
    ]
    assert effects.awakeable_completions == [
        AwakeableCompletionRequest(6, "sign_x", Outcome.fail(500, "no")),
        AwakeableCompletionRequest(7, "sign_y", Outcome(b"2")),
    ]


def test_calls_and_sends_create_children() -> None:
    call = Entry(0, EntryKind.CALL, "Greeter/greet", {"service": "Greeter", "handler": "greet"}, b"in")
    send = Entry(1, EntryKind.SEND, "Greeter/greet", {"service": "Greeter", "handler": "greet"})
    effects, completed = effects_of([call, send])
    assert [c.id for c in effects.children] == ["inv_0", "inv_1"]
    assert effects.children[0].caller == EntryRef("caller", 0)
    assert completed == ()


def test_a_call_to_no_handler_fails_with_404_and_a_send_to_none_is_dropped() -> None:
    call = Entry(0, EntryKind.CALL, "Nope/x", {"service": "Nope", "handler": "x"})
    send = Entry(1, EntryKind.SEND, "Nope/x", {"service": "Nope", "handler": "x"})
    entries = [call, send]
    effects, completed = effects_of(entries, child=no_child)
    assert effects.children == []
    failed = Outcome.fail(404, "no handler 'Nope/x' is registered")
    assert completed == (call.with_outcome(failed),)
    assert entries == [call.with_outcome(failed), send]  # stored failed; the send as it was


def test_entries_already_stored_only_change_their_outcome() -> None:
    entries = [
        Entry(0, EntryKind.SLEEP, data={"wake_at": 5}, outcome=Outcome()),
        Entry(1, EntryKind.SET_STATE, "a", payload=b"1"),
        Entry(2, EntryKind.SLEEP, data={"wake_at": 7}),
    ]
    effects, _ = effects_of(entries, written=2)
    assert effects.sleeps == [(2, 7)]
    assert effects.state == []


def test_entries_that_only_journal_have_no_effects() -> None:
    quiet = [
        Entry(0, EntryKind.RUN, "step"),
        Entry(1, EntryKind.GET_STATE, "a"),
        Entry(2, EntryKind.STATE_KEYS),
        Entry(3, EntryKind.WAIT),
        Entry(4, EntryKind.CANCEL_SIGNAL),
    ]
    effects, completed = effects_of(quiet)
    assert effects.empty and completed == ()


def test_put_back_keeps_a_failed_writes_effects_in_front() -> None:
    failed, later = StepEffects(), StepEffects()
    failed.set_state("a", b"1")
    failed.sleep(1, 10)
    failed.cancel("x")
    later.set_state("a", b"2")
    later.cancel("y")
    later.put_back(failed)
    assert later.state == [StateOp("a", b"1"), StateOp("a", b"2")]
    assert later.sleeps == [(1, 10)]
    assert later.cancels == ["x", "y"]
    assert not later.empty and StepEffects().empty


def test_progress_carries_the_step_effects() -> None:
    effects = StepEffects()
    effects.set_state("a", b"1")
    effects.attach(3, "t")
    effects.get_promise(4, "p")
    done = Complete(Outcome(b"r"))
    progress = storage.Progress.of("inv", 2, 100, [], effects, done, [(1, "a")])
    assert progress.state == [StateOp("a", b"1")]
    assert progress.attaches == [(3, "t")]
    assert progress.promises == [PromiseOp(4, "get", "p")]
    assert progress.captures == [(1, "a")] and progress.transition is done
    assert storage.Progress.of("inv", 2, 100, [], StepEffects(), None).captures == []
    # the store's vocabulary still names the values the core defines
    assert storage.StateOp is StateOp and storage.Complete is Complete


def test_completion_tells_which_timers_and_awakeables_are_left_open() -> None:
    done = Outcome(b"1")
    assert completion([Entry(0, EntryKind.RUN, outcome=done)], done) == Complete(done, False, False)
    assert completion([Entry(0, EntryKind.SLEEP, data={"wake_at": 1})], done) == Complete(done, True, False)
    completed_sleep = Entry(0, EntryKind.SLEEP, data={"wake_at": 1}, outcome=Outcome())
    assert completion([completed_sleep], done) == Complete(done, False, False)
    bare = Entry(0, EntryKind.AWAKEABLE, data={"id": "a"})
    assert completion([bare], done) == Complete(done, False, True)
    timed = Entry(0, EntryKind.AWAKEABLE, data={"id": "a", "deadline": 5})
    assert completion([timed], done) == Complete(done, True, True)


@given(st.one_of(st.none(), st.integers(-(2**40), 2**40)), st.integers(0, 2**40))
def test_a_send_waits_until_its_time_and_at_least_a_millisecond(run_at: int | None, now: int) -> None:
    delay = start_delay_ms(run_at, now)
    if run_at is None or run_at <= now:
        assert delay is None
    else:
        assert delay == run_at - now and delay >= 1
