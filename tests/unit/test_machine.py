"""The sans-IO journal machine: recording, replay, dirty tracking, non-determinism detection."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awaken.core.journal import IMMEDIATE_KINDS, Entry, EntryKind, Failure, Outcome
from awaken.core.machine import InvocationMachine
from awaken.errors import NonDeterminismError

K = EntryKind


def ok(value: bytes | None = None) -> Outcome:
    return Outcome(value)


# -- recording ---------------------------------------------------------------------------------


def test_a_fresh_machine_is_empty() -> None:
    m = InvocationMachine()
    assert m.length == 0
    assert m.stored_length == 0
    assert not m.replaying
    assert not m.dirty
    assert m.entries() == []
    assert m.take_dirty() == []


def test_steps_append_entries_with_consecutive_indices() -> None:
    m = InvocationMachine()
    kinds = [K.RUN, K.SLEEP, K.SET_STATE, K.AWAKEABLE, K.CALL, K.WAIT]
    made = [m.step(kind, f"n{i}") for i, kind in enumerate(kinds)]
    assert [e.index for e in made] == list(range(len(kinds)))
    assert [e.kind for e in made] == kinds
    assert [e.name for e in made] == [f"n{i}" for i in range(len(kinds))]
    assert m.length == len(kinds)
    assert m.entries() == made
    assert [m.entry(i) for i in range(len(kinds))] == made
    assert not m.replaying
    assert m.stored_length == 0


def test_step_keeps_data_and_payload() -> None:
    m = InvocationMachine()
    e = m.step(K.SET_STATE, "count", data={"k": 1}, payload=b"7")
    assert e.data == {"k": 1}
    assert e.payload == b"7"
    bare = m.step(K.RUN, "x")
    assert bare.data == {}
    assert bare.payload is None


def test_entries_returns_a_copy() -> None:
    m = InvocationMachine()
    m.step(K.RUN, "a")
    m.entries().clear()
    assert m.length == 1


@pytest.mark.parametrize("kind", sorted(IMMEDIATE_KINDS))
def test_immediate_kinds_are_completed_when_journaled(kind: EntryKind) -> None:
    m = InvocationMachine()
    e = m.step(kind, "x")
    assert e.completed
    assert e.outcome == Outcome()
    assert m.outcome(0) == Outcome()


@pytest.mark.parametrize("kind", sorted(set(EntryKind) - IMMEDIATE_KINDS))
def test_other_kinds_wait_for_a_completion(kind: EntryKind) -> None:
    m = InvocationMachine()
    e = m.step(kind, "x")
    assert not e.completed
    assert m.outcome(0) is None


def test_an_explicit_outcome_wins_over_the_immediate_default() -> None:
    m = InvocationMachine()
    assert m.step(K.GET_STATE, "count", outcome=ok(b"41")).outcome == ok(b"41")
    assert m.step(K.RUN, "r", outcome=Outcome.fail(500, "no")).outcome == Outcome(None, Failure(500, "no"))


def test_immediate_kinds_are_what_the_journal_says() -> None:
    # GET_STATE is not one: a read of a value not loaded with the attempt completes when it is read.
    assert {
        K.SET_STATE,
        K.CLEAR_STATE,
        K.CLEAR_ALL_STATE,
        K.STATE_KEYS,
        K.SEND,
        K.WAIT,
        K.CANCEL,
        K.CANCEL_SIGNAL,
        K.SEND_SIGNAL,
    } == IMMEDIATE_KINDS


# -- dirty tracking ----------------------------------------------------------------------------


def test_take_dirty_hands_out_new_entries_once_in_index_order() -> None:
    m = InvocationMachine()
    made = [m.step(K.RUN, "a"), m.step(K.SLEEP), m.step(K.SET_STATE, "s")]
    assert m.dirty
    assert m.take_dirty() == made
    assert not m.dirty
    assert m.take_dirty() == []
    later = m.step(K.WAIT)
    assert m.take_dirty() == [later]


def test_local_completion_marks_dirty_and_durable_does_not() -> None:
    m = InvocationMachine()
    m.step(K.RUN, "a")
    m.step(K.SLEEP)
    m.take_dirty()

    assert m.complete(1, ok(), durable=True)
    assert not m.dirty
    assert m.entry(1).outcome == ok()

    assert m.complete(0, ok(b"1"), durable=False)
    assert m.dirty
    assert m.take_dirty() == [Entry(0, K.RUN, "a", outcome=ok(b"1"))]
    assert not m.dirty


def test_take_dirty_orders_by_index_not_by_arrival() -> None:
    m = InvocationMachine()
    for name in "abcd":
        m.step(K.RUN, name)
    m.take_dirty()
    for index in (3, 0, 2):
        m.complete(index, ok(str(index).encode()), durable=False)
    taken = m.take_dirty()
    assert [e.index for e in taken] == [0, 2, 3]
    assert all(e.outcome == ok(str(e.index).encode()) for e in taken)


def test_completing_a_new_entry_before_the_flush_writes_it_once_with_its_outcome() -> None:
    m = InvocationMachine()
    m.step(K.RUN, "a")
    m.complete(0, ok(b"x"), durable=False)
    m.step(K.SLEEP)
    m.complete(1, ok(), durable=True)
    assert m.take_dirty() == [
        Entry(0, K.RUN, "a", outcome=ok(b"x")),
        Entry(1, K.SLEEP, outcome=ok()),
    ]


def test_restore_dirty_puts_entries_back() -> None:
    m = InvocationMachine()
    m.step(K.RUN, "a")
    m.step(K.RUN, "b")
    failed = m.take_dirty()
    assert not m.dirty
    m.restore_dirty(failed)
    assert m.dirty
    assert m.take_dirty() == failed
    assert m.take_dirty() == []


def test_restore_dirty_merges_with_newer_work_in_index_order() -> None:
    m = InvocationMachine()
    m.step(K.RUN, "a")
    m.step(K.RUN, "b")
    failed = m.take_dirty()
    m.step(K.RUN, "c")
    m.complete(1, ok(b"b"), durable=False)  # already in the failed batch: no duplicate
    m.restore_dirty(failed)
    taken = m.take_dirty()
    assert [e.index for e in taken] == [0, 1, 2]
    # What is written next is the machine's current version of the entry, not the stale copy.
    assert taken[1].outcome == ok(b"b")


def test_restored_entries_carry_completions_that_arrived_meanwhile() -> None:
    m = InvocationMachine()
    m.step(K.SLEEP)
    failed = m.take_dirty()
    m.complete(0, ok(), durable=True)
    assert not m.dirty
    m.restore_dirty(failed)
    assert m.take_dirty() == [Entry(0, K.SLEEP, outcome=ok())]


def test_complete_on_a_completed_entry_returns_false_and_changes_nothing() -> None:
    m = InvocationMachine()
    m.step(K.RUN, "a")
    m.step(K.STATE_KEYS, "s")
    assert m.complete(0, ok(b"first"), durable=True)
    m.take_dirty()
    for durable in (True, False):
        assert not m.complete(0, ok(b"second"), durable=durable)
        assert not m.complete(0, Outcome.fail(500, "x"), durable=durable)
        assert not m.complete(1, ok(b"late"), durable=durable)
    assert m.entry(0).outcome == ok(b"first")
    assert m.entry(1).outcome == Outcome()
    assert not m.dirty


def test_complete_beyond_the_journal_returns_false() -> None:
    m = InvocationMachine()
    m.step(K.RUN, "a")
    m.take_dirty()
    assert not m.complete(1, ok(), durable=False)
    assert not m.complete(100, ok(), durable=True)
    assert m.length == 1
    assert not m.dirty


def test_completed_and_outcome() -> None:
    m = InvocationMachine()
    m.step(K.RUN, "a")
    m.step(K.SLEEP)
    m.step(K.SET_STATE, "s")
    m.complete(0, Outcome.fail(409, "cancelled"), durable=True)
    assert m.completed([0, 1, 2]) == [0, 2]
    assert m.completed([]) == []
    assert m.outcome(0) == Outcome.fail(409, "cancelled")
    assert not m.outcome(0).ok  # type: ignore[union-attr]
    assert m.outcome(1) is None


def test_has_dirty_before() -> None:
    m = InvocationMachine()
    assert not m.has_dirty_before(0)
    assert not m.has_dirty_before(10)
    m.step(K.RUN, "a")
    m.step(K.RUN, "b")
    assert not m.has_dirty_before(0)
    assert m.has_dirty_before(1)
    m.take_dirty()
    assert not m.has_dirty_before(2)
    m.complete(1, ok(), durable=False)
    assert not m.has_dirty_before(1)
    assert m.has_dirty_before(2)
    m.complete(0, ok(), durable=True)
    assert not m.has_dirty_before(1)


# -- replay ------------------------------------------------------------------------------------

RECORDED = [
    Entry(0, K.GET_STATE, "count", outcome=ok(b"1")),
    Entry(1, K.RUN, "charge", data={"x": 1}, outcome=ok(b'"receipt"')),
    Entry(2, K.SLEEP, data={"wake_at": 1000}, outcome=ok()),
    Entry(3, K.AWAKEABLE, data={"id": "sign_1abc"}),  # not completed yet
]


def test_replay_returns_recorded_entries_then_appends() -> None:
    m = InvocationMachine(RECORDED)
    assert m.stored_length == len(RECORDED)
    assert m.length == len(RECORDED)
    assert m.replaying
    assert m.step(K.GET_STATE, "count") == RECORDED[0]
    assert m.replaying
    # During replay the recorded entry wins over what the handler passes now.
    assert m.step(K.RUN, "charge", data={"x": 2}, outcome=ok(b"other")) == RECORDED[1]
    assert m.step(K.SLEEP) == RECORDED[2]
    assert m.replaying
    awk = m.step(K.AWAKEABLE)
    assert awk == RECORDED[3]
    assert not awk.completed
    assert not m.replaying
    assert not m.dirty

    new = m.step(K.RUN, "ship")
    assert new.index == len(RECORDED)
    assert m.length == len(RECORDED) + 1
    assert m.stored_length == len(RECORDED)
    assert not m.replaying
    assert m.take_dirty() == [new]
    assert m.entries() == [*RECORDED, new]


def test_replayed_incomplete_entries_complete_like_new_ones() -> None:
    journal = [Entry(0, K.RUN, "a"), Entry(1, K.AWAKEABLE)]
    m = InvocationMachine(journal)
    m.step(K.RUN, "a")
    m.step(K.AWAKEABLE)
    assert not m.dirty
    assert m.complete(1, ok(b"v"), durable=True)
    assert not m.dirty
    assert m.complete(0, ok(b"r"), durable=False)
    assert m.take_dirty() == [Entry(0, K.RUN, "a", outcome=ok(b"r"))]
    assert not m.complete(0, ok(b"again"), durable=False)


def test_completions_may_arrive_for_entries_not_replayed_yet() -> None:
    m = InvocationMachine([Entry(0, K.SLEEP), Entry(1, K.AWAKEABLE)])
    assert m.complete(1, ok(b"v"), durable=True)
    m.step(K.SLEEP)
    assert m.step(K.AWAKEABLE).outcome == ok(b"v")
    assert not m.dirty


def test_an_empty_journal_is_not_replaying() -> None:
    m = InvocationMachine([])
    assert not m.replaying
    assert m.step(K.RUN, "a").index == 0


def test_the_machine_does_not_share_the_callers_journal_list() -> None:
    journal = [Entry(0, K.RUN, "a", outcome=ok())]
    m = InvocationMachine(journal)
    m.step(K.RUN, "a")
    m.step(K.RUN, "b")
    assert len(journal) == 1


@pytest.mark.parametrize(
    ("kind", "name", "new_text"),
    [
        (K.RUN, "refund", "run('refund')"),
        (K.SET_STATE, "charge", "set_state('charge')"),
        (K.SLEEP, "", "sleep('')"),
        (K.RUN, "", "run('')"),
    ],
)
def test_a_different_step_during_replay_is_non_determinism(kind: EntryKind, name: str, new_text: str) -> None:
    m = InvocationMachine(RECORDED)
    m.step(K.GET_STATE, "count")
    with pytest.raises(NonDeterminismError) as info:
        m.step(kind, name)
    message = str(info.value)
    assert "run('charge')" in message
    assert new_text in message
    assert "entry 1" in message


def test_a_name_on_an_unnamed_entry_is_non_determinism() -> None:
    m = InvocationMachine(RECORDED)
    for e in RECORDED[:2]:
        m.step(e.kind, e.name)
    with pytest.raises(NonDeterminismError, match=r"entry 2.*sleep\(''\).*sleep\('nap'\)"):
        m.step(K.SLEEP, "nap")


def test_steps_past_the_journal_are_never_checked() -> None:
    m = InvocationMachine(RECORDED[:1])
    m.step(K.GET_STATE, "count")
    assert m.step(K.RUN, "charge").index == 1  # anything goes once the journal is exhausted
    assert m.step(K.GET_STATE, "count").index == 2


@pytest.mark.parametrize(
    "indices",
    [[1], [0, 2], [0, 1, 1], [0, 1, 3, 4], [1, 0], [-1]],
)
def test_a_journal_with_a_gap_is_rejected(indices: list[int]) -> None:
    with pytest.raises(ValueError, match="gap"):
        InvocationMachine([Entry(i, K.RUN, "a") for i in indices])


# -- the replay property -----------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One handler action of a script, with what completes it."""

    kind: EntryKind
    name: str = ""
    payload: bytes | None = None
    outcome: Outcome | None = None  # RUN: its result; SLEEP/AWAKEABLE: a durable completion, if any


SCRIPT_KINDS = [K.RUN, K.SLEEP, K.AWAKEABLE, K.SET_STATE, K.GET_STATE, K.WAIT]
NAMED = {K.RUN, K.SET_STATE, K.GET_STATE}
names = st.sampled_from(["a", "b", "c"])
values = st.none() | st.binary(max_size=4)
outcomes = st.builds(Outcome, values) | st.builds(
    Outcome.fail, st.sampled_from([400, 409, 500]), st.text(max_size=4)
)


@st.composite
def actions(draw: st.DrawFn) -> Action:
    kind = draw(st.sampled_from(SCRIPT_KINDS))
    name = draw(names) if kind in NAMED else ""
    match kind:
        case K.RUN:
            return Action(kind, name, outcome=draw(outcomes))
        case K.SLEEP | K.AWAKEABLE:
            return Action(kind, outcome=draw(st.none() | outcomes))
        case K.SET_STATE:
            return Action(kind, name, payload=draw(values))
        case K.GET_STATE:
            return Action(kind, name, outcome=ok(draw(values)))  # the value the state read returns
        case _:
            return Action(kind)


scripts = st.lists(actions(), max_size=12)


def run_script(m: InvocationMachine, script: list[Action]) -> list[Entry]:
    """Drive the machine like a handler would: step, then complete what this attempt completes.

    A ctx.run runs (and completes locally) only if the journal has no result for it yet; timers and
    awakeables get their completion from outside, i.e. durably.
    """
    returned = []
    for action in script:
        step_outcome = action.outcome if action.kind is K.GET_STATE else None
        entry = m.step(action.kind, action.name, payload=action.payload, outcome=step_outcome)
        returned.append(entry)
        if entry.completed or action.outcome is None:
            continue
        if action.kind is K.RUN:
            assert m.complete(entry.index, action.outcome, durable=False)
        elif action.kind in (K.SLEEP, K.AWAKEABLE):
            assert m.complete(entry.index, action.outcome, durable=True)
    return returned


def record(script: list[Action]) -> list[Entry]:
    m = InvocationMachine()
    run_script(m, script)
    journal = m.entries()
    assert m.take_dirty() == journal  # a first attempt writes everything it did
    return journal


def other_outcome(outcome: Outcome | None) -> Outcome | None:
    """A different result for the same action: what a re-executed side effect might return."""
    if outcome is None:
        return None
    if outcome.failure is not None:
        return Outcome.fail(outcome.failure.code + 1, outcome.failure.message + "'")
    return Outcome((outcome.value or b"") + b"'")


def with_other_outcomes(script: list[Action]) -> list[Action]:
    return [replace(a, outcome=other_outcome(a.outcome)) for a in script]


@settings(max_examples=150, deadline=None)
@given(scripts)
def test_replaying_any_prefix_of_a_journal_rebuilds_the_same_journal(script: list[Action]) -> None:
    journal = record(script)
    assert [e.index for e in journal] == list(range(len(script)))
    assert [(e.kind, e.name) for e in journal] == [(a.kind, a.name) for a in script]
    # A later attempt whose side effects would return other results, where it runs them at all.
    second = with_other_outcomes(script)
    journal_if_rerun = record(second)

    for k in range(len(journal) + 1):
        m = InvocationMachine(journal[:k])
        assert m.replaying == (k > 0)
        returned = []
        for i, action in enumerate(second):
            returned += run_script(m, [action])
            assert m.replaying == (i + 1 < k)

        # Inside the stored prefix the handler gets exactly the recorded entries, outcomes included.
        assert returned[:k] == journal[:k]
        # Past it, the attempt records what it does now.
        assert [(e.index, e.kind, e.name) for e in returned[k:]] == [
            (e.index, e.kind, e.name) for e in journal_if_rerun[k:]
        ]
        entries = m.entries()
        assert entries == journal[:k] + journal_if_rerun[k:]
        assert [(e.index, e.kind, e.name) for e in entries] == [(e.index, e.kind, e.name) for e in journal]
        # Only what is not stored yet is written, each entry once.
        assert m.take_dirty() == entries[k:]
        assert not m.dirty
        assert m.stored_length == k
        assert m.length == len(journal)


def strip_pending(journal: list[Entry], pending: set[int]) -> list[Entry]:
    """The journal as stored before the entries in `pending` had their outcome."""
    return [
        # (a state read is stored with what it read, as those of the script are)
        replace(e, outcome=None)
        if e.index in pending and e.kind not in {*IMMEDIATE_KINDS, K.GET_STATE}
        else e
        for e in journal
    ]


@settings(max_examples=150, deadline=None)
@given(scripts, st.data())
def test_replay_completes_what_the_stored_prefix_left_pending(
    script: list[Action], data: st.DataObject
) -> None:
    journal = record(script)
    k = data.draw(st.integers(min_value=0, max_value=len(journal)), label="k")
    pending = data.draw(st.sets(st.integers(min_value=0, max_value=max(0, k - 1))), label="pending")
    stored = strip_pending(journal[:k], pending)

    m = InvocationMachine(stored)
    run_script(m, script)
    # Same script, same results: the journal comes out the same.
    assert m.entries() == journal
    # Written: every new entry, and every stored one whose result was produced here (a ctx.run that
    # had not finished). Completions from outside were stored before they came in.
    locally_completed = [e for e in journal[:k] if stored[e.index].outcome is None and e.kind is K.RUN]
    assert m.take_dirty() == locally_completed + journal[k:]


@st.composite
def altered_replays(draw: st.DrawFn) -> tuple[list[Action], int, Action]:
    script = draw(st.lists(actions(), min_size=1, max_size=12))
    position = draw(st.integers(min_value=0, max_value=len(script) - 1))
    original = script[position]
    kind = draw(st.sampled_from(SCRIPT_KINDS))
    name = draw(st.sampled_from(["", "a", "b", "c", "zz"]))
    altered = replace(original, kind=kind, name=name)
    if (kind, name) == (original.kind, original.name):
        altered = replace(original, name=original.name + "'")
    return script, position, altered


@settings(max_examples=150, deadline=None)
@given(altered_replays(), st.data())
def test_replaying_an_altered_step_inside_the_prefix_is_non_determinism(
    case: tuple[list[Action], int, Action], data: st.DataObject
) -> None:
    script, position, altered = case
    journal = record(script)
    k = data.draw(st.integers(min_value=position + 1, max_value=len(journal)), label="k")
    m = InvocationMachine(journal[:k])
    run_script(m, script[:position])  # the same path up to the change
    recorded = journal[position]
    with pytest.raises(NonDeterminismError) as info:
        run_script(m, [altered])
    message = str(info.value)
    assert f"entry {position}" in message
    assert f"{recorded.kind.value}({recorded.name!r})" in message
    assert f"{altered.kind.value}({altered.name!r})" in message
    assert not m.dirty


@settings(max_examples=100, deadline=None)
@given(altered_replays())
def test_an_altered_step_past_the_prefix_is_just_recorded(case: tuple[list[Action], int, Action]) -> None:
    script, position, altered = case
    journal = record(script)
    m = InvocationMachine(journal[:position])
    run_script(m, script[:position])
    entry = m.step(altered.kind, altered.name)
    assert (entry.index, entry.kind, entry.name) == (position, altered.kind, altered.name)


def test_annotate_updates_a_pending_entry_for_the_next_write_only() -> None:
    m = InvocationMachine()
    run = m.step(EntryKind.RUN, "r")
    done = m.step(EntryKind.RUN, "done")
    m.complete(done.index, Outcome(b"1"), durable=False)
    m.take_dirty()
    m.annotate(run.index, {"attempts": 2})
    m.annotate(done.index, {"attempts": 9})  # completed: nothing to retry, left alone
    assert [(e.index, e.data) for e in m.take_dirty()] == [(0, {"attempts": 2})]
    m.annotate(run.index, {"attempts": 3, "last_failure": "x"})
    assert m.entry(run.index).data == {"attempts": 3, "last_failure": "x"}
    # a replay sees the annotation and still matches the entry by kind and name
    replay = InvocationMachine(m.entries())
    assert replay.step(EntryKind.RUN, "r").data["attempts"] == 3
