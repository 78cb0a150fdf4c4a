"""Named signals in the journal: the entries `ctx.signal` / `ctx.resolve_signal` /
`ctx.reject_signal` journal, how they replay, and where a replay diverges."""

from __future__ import annotations

from typing import Any

import pytest

import awaken as restate
from awaken.core.journal import Entry, EntryKind, Outcome
from awaken.core.machine import InvocationMachine
from awaken.errors import NonDeterminismError, TerminalError
from awaken.sdk.invocation import InvocationContext
from awaken.sdk.replay_check import _ReplayDriver
from awaken.sdk.service import handler_spec_of

K = EntryKind
TARGET = "inv_105k6dMakFd00h2BarxrUEALiu6nV3hKx3"

svc = restate.Service("signals_unit")


@svc.handler()
async def noop(ctx: restate.Context) -> None:
    return None


def context(journal: list[Entry]) -> tuple[InvocationContext, InvocationMachine]:
    machine = InvocationMachine(journal)
    ctx = InvocationContext(
        spec=handler_spec_of(noop),
        driver=_ReplayDriver(machine, 1_700_000_000_000),
        invocation_id=TARGET,
        key=None,
        headers={},
        body=b"",
        idempotency_key=None,
        state={},
    )
    return ctx, machine


def test_a_new_signal_journals_its_name_and_ordinal_per_name() -> None:
    ctx, machine = context([])
    ctx.signal("approve")
    ctx.signal("other")
    ctx.signal("approve")
    entries = machine.take_dirty()
    assert [(e.kind, e.name, e.data, e.outcome) for e in entries] == [
        (K.SIGNAL, "approve", {"ordinal": 1}, None),
        (K.SIGNAL, "other", {"ordinal": 1}, None),
        (K.SIGNAL, "approve", {"ordinal": 2}, None),
    ]


def test_ordinals_count_the_replayed_signals_too() -> None:
    recorded = [Entry(0, K.SIGNAL, "approve", {"ordinal": 1}, None, Outcome(b'"yes"'))]
    ctx, machine = context(recorded)
    ctx.signal("approve")
    ctx.signal("approve")
    [new] = machine.take_dirty()
    assert new.index == 1 and new.data == {"ordinal": 2}


async def test_a_replayed_signal_gets_its_recorded_outcome() -> None:
    recorded = [
        Entry(0, K.SIGNAL, "approve", {"ordinal": 1}, None, Outcome(b'{"ok": true}')),
        Entry(1, K.SIGNAL, "approve", {"ordinal": 2}, None, Outcome.fail(403, "refused")),
    ]
    ctx, machine = context(recorded)
    assert await ctx.signal("approve") == {"ok": True}
    with pytest.raises(TerminalError) as info:
        await ctx.signal("approve", type_hint=str)
    assert (info.value.message, info.value.status_code) == ("refused", 403)
    assert not machine.dirty


def test_sending_journals_the_target_and_the_value_or_the_failure() -> None:
    ctx, machine = context([])
    ctx.resolve_signal(TARGET, "approve", {"by": "me"})
    ctx.reject_signal(TARGET, "approve", "no way", 422)
    ctx.reject_signal(TARGET, "approve", "no")
    entries = machine.take_dirty()
    assert [(e.kind, e.name, e.data, e.payload, e.outcome) for e in entries] == [
        (K.SEND_SIGNAL, "approve", {"invocation_id": TARGET}, b'{"by":"me"}', Outcome()),
        (
            K.SEND_SIGNAL,
            "approve",
            {"invocation_id": TARGET, "code": 422, "message": "no way"},
            None,
            Outcome(),
        ),
        (K.SEND_SIGNAL, "approve", {"invocation_id": TARGET, "code": 500, "message": "no"}, None, Outcome()),
    ]


def test_a_replayed_send_is_not_sent_again() -> None:
    recorded = [Entry(0, K.SEND_SIGNAL, "approve", {"invocation_id": TARGET}, b"1", Outcome())]
    ctx, machine = context(recorded)
    ctx.resolve_signal(TARGET, "approve", 1)
    assert not machine.dirty and machine.length == 1


def test_a_malformed_target_is_a_terminal_error_and_journals_nothing() -> None:
    ctx, machine = context([])
    for send in (
        lambda: ctx.resolve_signal("not-an-id", "s", 1),
        lambda: ctx.reject_signal("inv_1short", "s", "no"),
    ):
        with pytest.raises(TerminalError) as info:
            send()
        assert info.value.status_code == 400 and "bad invocation id" in info.value.message
    assert machine.length == 0


@pytest.mark.parametrize(
    ("recorded", "action", "expected"),
    [
        (
            Entry(0, K.SIGNAL, "approve", {"ordinal": 1}),
            "signal:other",
            r"signal\('approve'\).*signal\('other'\)",
        ),
        (Entry(0, K.SIGNAL, "approve", {"ordinal": 1}), "send:approve", r"signal\('approve'\).*send_signal"),
        (
            Entry(0, K.SEND_SIGNAL, "approve", {"invocation_id": TARGET}, None, Outcome()),
            "send:other",
            r"send_signal\('approve'\).*send_signal\('other'\)",
        ),
        (Entry(0, K.AWAKEABLE, "", {"id": "sign_1x"}), "signal:approve", r"awakeable.*signal\('approve'\)"),
    ],
)
def test_a_replay_that_takes_another_signal_path_is_non_deterministic(
    recorded: Entry, action: str, expected: str
) -> None:
    ctx, _ = context([recorded])
    what, name = action.split(":")
    act: Any = (
        (lambda: ctx.signal(name)) if what == "signal" else (lambda: ctx.resolve_signal(TARGET, name, 1))
    )
    with pytest.raises(NonDeterminismError, match=expected):
        act()


def test_the_machine_checks_the_kind_and_name_of_signal_entries() -> None:
    recorded = [
        Entry(0, K.SIGNAL, "a", {"ordinal": 1}, None, Outcome(b"1")),
        Entry(1, K.SEND_SIGNAL, "b", {"invocation_id": TARGET}, b"2", Outcome()),
    ]
    m = InvocationMachine(recorded)
    assert m.step(K.SIGNAL, "a").outcome == Outcome(b"1")
    assert m.step(K.SEND_SIGNAL, "b").outcome == Outcome()
    for kind, name in ((K.SIGNAL, "b"), (K.SEND_SIGNAL, "a"), (K.GET_PROMISE, "a")):
        again = InvocationMachine(recorded)
        with pytest.raises(NonDeterminismError, match="entry 0"):
            again.step(kind, name)


def test_a_wait_on_a_signal_is_named_after_it_in_traces() -> None:
    from awaken.observability.tracing import describe_wait

    assert describe_wait([("signal", "approve"), ("sleep", "")]) == "wait signal approve, sleep"
