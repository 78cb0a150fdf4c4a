"""The runtime side of Restate's service protocol, sans-IO (protocol.runtime): what each message
of the SDK asks of the store, what is answered at once, what it needs fetched, how the attempt
ends, and what breaks the protocol."""

from __future__ import annotations

import json

import pytest

from awaken.core.effects import (
    AwakeableCompletionRequest,
    Complete,
    EntryRef,
    NewAwakeable,
    NewInvocation,
    PromiseOp,
    SignalOp,
    StateOp,
    Suspend,
)
from awaken.core.ids import workflow_invocation_id
from awaken.core.journal import EntryKind, Outcome, signal_slot
from awaken.protocol import awakeable_id
from awaken.protocol import messages as m
from awaken.protocol.journal import ProtocolViolation
from awaken.protocol.runtime import Failed, Next, ReadOutput, ReadState, ResolveCall, RuntimeMachine

START_ID = b"start-id"


def machine(
    state: dict[str, bytes] | None = None,
    lazy: frozenset[str] = frozenset(),
    keyed: bool = True,
    streaming: bool = True,
) -> RuntimeMachine:
    run = RuntimeMachine("inv_1", START_ID, [], state or {}, lazy, keyed, streaming=streaming)
    run.add_input(m.InputCommand(value=m.Value(b'"x"')))
    return run


def child(new_id: str = "inv_child") -> NewInvocation:
    return NewInvocation(new_id, "Greeter", "greet", None, False, b"", {}, 0, 0)


def test_state_commands_change_the_state_and_are_stored() -> None:
    run = machine(state={"a": b"1", "b": b"2"}, lazy=frozenset({"big"}))
    # a state change sets nothing in motion: it is stored with the next write
    assert run.receive(m.SetStateCommand(key=b"c", value=m.Value(b"3"))) is Next.WAIT
    assert run.receive(m.SetStateCommand(key=b"big", value=None)) is Next.WAIT
    assert run.receive(m.ClearStateCommand(key=b"a")) is Next.WAIT
    assert run.effects.state == [StateOp("c", b"3"), StateOp("big", b""), StateOp("a", None)]
    assert run.state == {"b": b"2", "c": b"3", "big": b""} and run.lazy == set()
    assert run.receive(m.ClearAllStateCommand()) is Next.WAIT
    assert run.effects.state[-1] == StateOp(None, None) and run.state == {}
    assert run.replies == []  # nothing to answer
    assert [e.kind for e in run.new] == [EntryKind.COMMAND] * 5  # the input and four commands


def test_state_reads_are_answered_at_once_unless_the_value_was_not_loaded() -> None:
    run = machine(state={"a": b"1"}, lazy=frozenset({"big"}))
    assert run.receive(m.GetLazyStateCommand(key=b"a", result_completion_id=1)) is Next.WRITE
    assert run.receive(m.GetLazyStateCommand(key=b"none", result_completion_id=2)) is Next.WRITE
    assert run.replies == [
        m.GetLazyStateCompletionNotification(1, m.Value(b"1")),
        m.GetLazyStateCompletionNotification(2, m.Void()),
    ]
    need = run.receive(m.GetLazyStateCommand(key=b"big", result_completion_id=3))
    assert need == ReadState(3, "big")
    assert isinstance(need, ReadState)
    assert run.state_read(need, b"large") is Next.WRITE
    assert run.replies[-1] == m.GetLazyStateCompletionNotification(3, m.Value(b"large"))
    assert run.state["big"] == b"large" and "big" not in run.lazy
    # each answer is stored as a notification after its command, with its outcome
    notes = [e for e in run.new if e.kind is EntryKind.NOTIFICATION]
    assert [(e.data["c"], e.outcome) for e in notes] == [
        (1, Outcome(b"1")),
        (2, Outcome(None)),
        (3, Outcome(b"large")),
    ]
    assert run.effects.empty


def test_an_unkeyed_invocation_has_no_lazy_state_to_read() -> None:
    run = machine(lazy=frozenset({"big"}), keyed=False)
    assert run.receive(m.GetLazyStateCommand(key=b"big", result_completion_id=1)) is Next.WRITE
    assert run.replies == [m.GetLazyStateCompletionNotification(1, m.Void())]


def test_state_keys_include_the_values_not_loaded() -> None:
    run = machine(state={"b": b"1"}, lazy=frozenset({"a"}))
    assert run.receive(m.GetLazyStateKeysCommand(result_completion_id=1)) is Next.WRITE
    [note] = [e for e in run.new if e.kind is EntryKind.NOTIFICATION]
    assert json.loads(note.outcome.value or b"") == ["a", "b"]  # type: ignore[union-attr]
    assert run.replies == [m.GetLazyStateKeysCompletionNotification(1, m.StateKeys((b"a", b"b")))]


def test_a_state_key_that_is_not_utf8_breaks_the_protocol() -> None:
    with pytest.raises(ProtocolViolation, match="not UTF-8"):
        machine().receive(m.SetStateCommand(key=b"\xff", value=m.Value(b"1")))


def test_timers_promises_attaches_signals_and_awakeable_completions() -> None:
    run = machine()
    run.receive(m.SleepCommand(wake_up_time=5000, result_completion_id=1))
    run.receive(m.GetPromiseCommand(key="p", result_completion_id=2))
    run.receive(m.PeekPromiseCommand(key="p", result_completion_id=3))
    run.receive(m.CompletePromiseCommand(key="p", completion=m.Failure(418, "no"), result_completion_id=4))
    run.receive(m.AttachInvocationCommand(target=m.WorkflowTarget("Flow", "k"), result_completion_id=5))
    run.receive(m.CompleteAwakeableCommand(awakeable_id="sign_x", result=m.Value(b"7")))
    run.receive(m.SendSignalCommand(target_invocation_id="inv_v", signal_id=m.CANCEL_SIGNAL_INDEX))
    run.receive(m.SendSignalCommand(target_invocation_id="inv_t", signal_id="go", result=m.Value(b"1")))
    run.receive(m.SendSignalCommand(target_invocation_id="inv_t", signal_id=20, result=m.Void()))
    e = run.effects
    assert e.sleeps == [(1, 5000)]
    assert e.promises == [
        PromiseOp(2, "get", "p"),
        PromiseOp(3, "peek", "p"),
        PromiseOp(4, "complete", "p", Outcome.fail(418, "no")),
    ]
    assert e.attaches == [(5, workflow_invocation_id("Flow", "k"))]
    complete_entry = run.new[6].index  # the entry that stores CompleteAwakeable: its outcome lands there
    assert e.awakeable_completions == [AwakeableCompletionRequest(complete_entry, "sign_x", Outcome(b"7"))]
    assert e.cancels == ["inv_v"]
    send_entry = run.new[8].index
    assert e.signals == [SignalOp(send_entry, "send", "go", target="inv_t", outcome=Outcome(b"1"))]
    assert run.replies == []  # all of them are answered later, by the store's rules


def test_a_command_without_a_target_breaks_the_protocol() -> None:
    with pytest.raises(ProtocolViolation, match="no target"):
        machine().receive(m.AttachInvocationCommand(target=None, result_completion_id=1))


def test_an_invocations_output_is_fetched_then_answered() -> None:
    run = machine()
    need = run.receive(m.GetInvocationOutputCommand(target="inv_a", result_completion_id=1))
    assert need == ReadOutput(1, "inv_a")
    assert isinstance(need, ReadOutput)
    run.output_read(need, True, Outcome(b"done"))
    need2 = run.receive(m.GetInvocationOutputCommand(target="inv_b", result_completion_id=2))
    assert isinstance(need2, ReadOutput)
    run.output_read(need2, True, None)  # not completed yet: an empty answer
    need3 = run.receive(m.GetInvocationOutputCommand(target="inv_c", result_completion_id=3))
    assert isinstance(need3, ReadOutput)
    assert run.output_read(need3, False, None) is Next.WRITE
    assert run.replies == [
        m.GetInvocationOutputCompletionNotification(1, m.Value(b"done")),
        m.GetInvocationOutputCompletionNotification(2, m.Void()),
        m.GetInvocationOutputCompletionNotification(3, m.Failure(404, "invocation not found")),
    ]


def test_a_call_creates_a_child_and_answers_its_invocation_id() -> None:
    run = machine()
    call = m.CallCommand(
        service_name="Greeter",
        handler_name="greet",
        parameter=b"in",
        headers=(m.Header("h", "v"),),
        key="k",
        idempotency_key="once",
        invocation_id_notification_idx=1,
        result_completion_id=2,
    )
    need = run.receive(call)
    assert need == ResolveCall(
        call, "Greeter", "greet", "k", b"in", {"h": "v"}, "once", None, EntryRef("inv_1", 2)
    )
    assert isinstance(need, ResolveCall)
    assert run.call_resolved(need, child()) is Next.WRITE
    assert run.effects.children == [child()]
    assert run.replies == [m.CallInvocationIdCompletionNotification(1, "inv_child")]


def test_a_delayed_one_way_call_has_no_caller_and_a_start_time() -> None:
    run = machine()
    send = m.OneWayCallCommand(
        service_name="Greeter", handler_name="greet", invoke_time=9000, invocation_id_notification_idx=1
    )
    need = run.receive(send)
    assert isinstance(need, ResolveCall)
    assert (need.key, need.caller, need.run_at_ms, need.idempotency_key) == (None, None, 9000, None)
    now = run.receive(
        m.OneWayCallCommand(service_name="G", handler_name="h", invocation_id_notification_idx=2)
    )
    assert isinstance(now, ResolveCall) and now.run_at_ms is None


def test_a_call_to_no_handler_fails_with_404_and_a_send_to_none_is_dropped() -> None:
    run = machine()
    call = m.CallCommand(
        service_name="Nope", handler_name="x", invocation_id_notification_idx=1, result_completion_id=2
    )
    need = run.receive(call)
    assert isinstance(need, ResolveCall)
    run.call_resolved(need, None)
    send = run.receive(
        m.OneWayCallCommand(service_name="Nope", handler_name="x", invocation_id_notification_idx=3)
    )
    assert isinstance(send, ResolveCall)
    run.call_resolved(send, None)
    assert run.effects.children == []
    notes = [(e.data["c"], e.outcome) for e in run.new if e.kind is EntryKind.NOTIFICATION]
    assert notes == [
        (2, Outcome.fail(404, "service 'Nope/x' not found")),
        (1, Outcome(b"")),
        (3, Outcome(b"")),
    ]
    # the empty invocation ids are sent; the call's failure is stored (a replay gives it)
    assert run.replies == [
        m.CallInvocationIdCompletionNotification(1, ""),
        m.CallInvocationIdCompletionNotification(3, ""),
    ]


def test_run_results_are_stored_then_acknowledged_or_echoed() -> None:
    run = machine()
    run.receive(m.RunCommand(result_completion_id=1, name="a"))
    run.receive(m.RunCommand(result_completion_id=2, name="b"))
    run.replies.clear()
    acked = run.receive(m.ProposeRunCompletionMessage(1, b"42", requested_ack=True))
    echoed = run.receive(m.ProposeRunCompletionMessage(2, m.Failure(500, "x")))
    assert acked is Next.WRITE and echoed is Next.WRITE
    assert run.replies == [
        m.ProposeRunCompletionAckMessage(1),
        m.RunCompletionNotification(2, m.Failure(500, "x")),
    ]
    assert [e.outcome for e in run.new[-2:]] == [Outcome(b"42"), Outcome.fail(500, "x")]


@pytest.mark.parametrize(
    "command",
    [
        m.SleepCommand(wake_up_time=5000, result_completion_id=1),
        m.GetPromiseCommand(key="p", result_completion_id=1),
        m.AttachInvocationCommand(target="inv_other", result_completion_id=1),
        m.CompleteAwakeableCommand(awakeable_id="sign_x", result=m.Value(b"7")),
        m.SendSignalCommand(target_invocation_id="inv_v", signal_id=m.CANCEL_SIGNAL_INDEX),
    ],
)
@pytest.mark.parametrize("streaming", [True, False])
def test_what_sets_something_in_motion_is_stored_at_once_in_both_modes(
    command: m.Command, streaming: bool
) -> None:
    run = machine(streaming=streaming)
    assert run.receive(m.RunCommand(result_completion_id=9, name="a")) is Next.WAIT
    assert run.receive(command) is Next.WRITE
    entries, _ = run.take()
    assert [e.kind for e in entries] == [EntryKind.COMMAND] * 3  # the run went with it, in order


def test_in_request_response_mode_answers_and_run_results_wait_for_the_requests_end() -> None:
    # Nothing reaches the SDK before the request ends: storing an answer or a run's result
    # earlier would cost a write and protect nothing (the suspension or End stores them).
    run = machine(state={"a": b"1"}, streaming=False)
    assert run.receive(m.GetLazyStateCommand(key=b"a", result_completion_id=1)) is Next.WAIT
    assert run.receive(m.GetLazyStateKeysCommand(result_completion_id=2)) is Next.WAIT
    assert run.receive(m.RunCommand(result_completion_id=3, name="r")) is Next.WAIT
    assert run.receive(m.ProposeRunCompletionMessage(3, b"42", requested_ack=True)) is Next.WAIT
    need = run.receive(m.GetInvocationOutputCommand(target="inv_x", result_completion_id=4))
    assert isinstance(need, ReadOutput) and run.output_read(need, False, None) is Next.WAIT
    assert run.pending and len(run.new) == 1 + 2 * 4  # the input; four commands, four results
    # a call creates an invocation: that cannot wait
    call = run.receive(m.CallCommand(service_name="Greeter", handler_name="greet", result_completion_id=5))
    assert isinstance(call, ResolveCall) and run.call_resolved(call, child()) is Next.WRITE
    # the same answers are stored (and sent) at once when the SDK can hear them
    streaming = machine(state={"a": b"1"})
    assert streaming.receive(m.GetLazyStateCommand(key=b"a", result_completion_id=1)) is Next.WRITE
    streaming.receive(m.RunCommand(result_completion_id=3, name="r"))
    assert streaming.receive(m.ProposeRunCompletionMessage(3, b"42", requested_ack=True)) is Next.WRITE


def test_a_run_result_nobody_asked_for_breaks_the_protocol() -> None:
    run = machine()
    run.receive(m.SleepCommand(wake_up_time=1, result_completion_id=1))
    with pytest.raises(ProtocolViolation, match="no RunCommand"):
        run.receive(m.ProposeRunCompletionMessage(1, b"1"))
    with pytest.raises(ProtocolViolation, match="no RunCommand"):
        run.receive(m.ProposeRunCompletionMessage(9, b"1"))


def test_end_completes_with_the_output_which_is_stored_with_the_end() -> None:
    run = machine()
    with pytest.raises(ProtocolViolation, match="End without an OutputCommand"):
        run.receive(m.EndMessage())
    assert run.receive(m.OutputCommand(result=m.Value(b'"hi"'))) is Next.WAIT
    assert run.receive(m.EndMessage()) == Complete(Outcome(b'"hi"'))
    failed = machine()
    failed.receive(m.OutputCommand(result=m.Failure(409, "no")))
    assert failed.receive(m.EndMessage()) == Complete(Outcome.fail(409, "no"))


def test_a_suspension_must_await_something_and_lists_the_awakeables_it_awaits() -> None:
    with pytest.raises(ProtocolViolation, match="awaits nothing"):
        machine().receive(m.SuspensionMessage())
    run = machine()
    run.journal.delivered(signal_slot(18), Outcome(b"resolved"))  # an awakeable already completed
    ended = run.receive(
        m.SuspensionMessage(waiting_completions=(3,), waiting_signals=(m.CANCEL_SIGNAL_INDEX, 17, 18))
    )
    assert ended == Suspend(sorted([3, signal_slot(1), signal_slot(17), signal_slot(18)]))
    assert run.effects.awakeables == [NewAwakeable(awakeable_id(START_ID, 17), signal_slot(17), None, None)]


def test_an_error_fails_the_attempt_with_its_code_and_retry_delay() -> None:
    run = machine()
    assert run.receive(m.ErrorMessage(code=503, message="busy", next_retry_delay=250)) == Failed(
        "busy", 503, 250
    )
    assert run.receive(m.ErrorMessage()) == Failed("the handler failed", 500, None)


def test_hints_are_ignored_and_runtime_messages_break_the_protocol() -> None:
    run = machine()
    assert run.receive(m.AwaitingOnMessage()) is Next.WAIT
    with pytest.raises(ProtocolViolation, match="unexpected StartMessage"):
        run.receive(m.StartMessage())
    with pytest.raises(ProtocolViolation, match="InputCommand"):
        run.receive(m.InputCommand())
    with pytest.raises(ProtocolViolation, match="used twice"):
        run.receive(m.SleepCommand(wake_up_time=1, result_completion_id=1))
        run.receive(m.RunCommand(result_completion_id=1))


def test_a_failed_write_goes_with_the_next_one_in_order() -> None:
    run = machine()
    run.receive(m.SetStateCommand(key=b"a", value=m.Value(b"1")))
    assert run.pending
    entries, effects = run.take()
    assert not run.pending and len(entries) == 2
    run.receive(m.SetStateCommand(key=b"a", value=m.Value(b"2")))
    run.put_back(entries, effects)
    assert [e.index for e in run.new] == [0, 1, 2]
    assert run.effects.state == [StateOp("a", b"1"), StateOp("a", b"2")]


@pytest.mark.parametrize(
    "command",
    [
        m.SleepCommand(wake_up_time=2**64 - 1, result_completion_id=1),
        m.SleepCommand(wake_up_time=253_402_300_800_000, result_completion_id=1),
        m.OneWayCallCommand(service_name="Greeter", handler_name="greet", invoke_time=2**63),
    ],
)
def test_a_time_past_any_clock_breaks_the_protocol_and_is_not_stored(command: m.Command) -> None:
    # (a u64 the store's integers cannot hold would fail the write of every invocation batched
    # with it; a year past 9999 is no time either)
    run = machine()
    with pytest.raises(ProtocolViolation, match="not a time"):
        run.receive(command)
    assert len(run.new) == 1 and run.effects.empty  # the input only


def test_the_latest_time_is_accepted() -> None:
    run = machine()
    assert run.receive(m.SleepCommand(wake_up_time=253_402_300_799_999, result_completion_id=1)) is Next.WRITE
    assert run.effects.sleeps == [(1, 253_402_300_799_999)]
