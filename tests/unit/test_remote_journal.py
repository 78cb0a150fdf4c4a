"""The journal of a remote invocation (pure): what it replays, how notifications are typed by the
command that asked for them, and what an SDK may not send."""

from __future__ import annotations

import pytest

from awaken.core.journal import Entry, EntryKind, Outcome, completion_slot, signal_slot
from awaken.protocol import messages as m
from awaken.protocol.framing import decode_messages, encode_message
from awaken.protocol.journal import ProtocolViolation, RemoteJournal, awaited_slots, describe


def started() -> RemoteJournal:
    journal = RemoteJournal([])
    journal.add_input(m.InputCommand(value=m.Value(b'"x"')))
    return journal


def test_replay_gives_commands_as_sent_and_notifications_typed_by_their_command() -> None:
    journal = started()
    journal.add_command(m.RunCommand(result_completion_id=1, name="charge"))
    journal.add_command(m.SleepCommand(wake_up_time=5, result_completion_id=2))
    journal.add_command(m.GetLazyStateKeysCommand(result_completion_id=3))
    journal.add_command(
        m.CallCommand(
            service_name="Greeter",
            handler_name="greet",
            invocation_id_notification_idx=4,
            result_completion_id=5,
        )
    )
    journal.add_notification(1, Outcome(b"42"))
    # what the store recorded meanwhile (outcomes only, no message): typed on replay
    stored = [
        *journal.entries,
        Entry(6, EntryKind.NOTIFICATION, "", {"c": 2}, None, Outcome()),
        Entry(7, EntryKind.NOTIFICATION, "", {"c": 3}, None, Outcome(b'["a", "b\\u0000c"]')),
        Entry(8, EntryKind.NOTIFICATION, "", {"c": 5}, None, Outcome.fail(404, "no such service")),
        Entry(9, EntryKind.NOTIFICATION, "", {"s": 17}, None, Outcome(b'"ok"')),
    ]
    replay = RemoteJournal(stored).replay()
    assert replay.commands == 5
    # the stored frames go out as they are; the outcome-only notifications are encoded
    assert replay.frames[:6] == [entry.payload for entry in journal.entries]
    messages = decode_messages(b"".join(replay.frames))
    kinds = [type(message).__name__ for message in messages]
    assert kinds == [
        "InputCommand",
        "RunCommand",
        "SleepCommand",
        "GetLazyStateKeysCommand",
        "CallCommand",
        "RunCompletionNotification",
        "SleepCompletionNotification",
        "GetLazyStateKeysCompletionNotification",
        "CallCompletionNotification",
        "SignalNotification",
    ]
    run, sleep, keys, call, signal = messages[5:]
    assert isinstance(run, m.RunCompletionNotification) and run.result == m.Value(b"42")
    assert isinstance(sleep, m.SleepCompletionNotification) and sleep.completion_id == 2
    assert isinstance(keys, m.GetLazyStateKeysCompletionNotification)
    assert keys.state_keys == m.StateKeys((b"a", b"b\x00c"))
    assert isinstance(call, m.CallCompletionNotification) and call.result == m.Failure(404, "no such service")
    assert isinstance(signal, m.SignalNotification) and signal.signal_id == 17


def test_what_an_sdk_may_not_send_is_a_protocol_violation() -> None:
    journal = started()
    with pytest.raises(ProtocolViolation, match="only the runtime sends the input"):
        journal.add_command(m.InputCommand(value=m.Value(b"1")))
    journal.add_command(m.RunCommand(result_completion_id=1))
    with pytest.raises(ProtocolViolation, match="completion id 1 is used twice"):
        journal.add_command(m.SleepCommand(wake_up_time=1, result_completion_id=1))
    with pytest.raises(ProtocolViolation, match="no command of this journal awaits completion 9"):
        journal.notification(9, Outcome())
    with pytest.raises(ValueError):
        journal.add_input(m.InputCommand())
    broken = Entry(0, EntryKind.COMMAND, "", {}, b"\x13\x37garbage")
    with pytest.raises(ProtocolViolation, match="cannot be decoded"):
        RemoteJournal([broken])


def test_a_delivery_is_pushed_once() -> None:
    journal = started()
    journal.add_command(m.SleepCommand(wake_up_time=1, result_completion_id=1))
    first = journal.delivered(completion_slot(1), Outcome())
    assert isinstance(first, m.SleepCompletionNotification)
    assert journal.delivered(completion_slot(1), Outcome()) is None
    cancel = journal.delivered(signal_slot(1), Outcome())
    assert isinstance(cancel, m.SignalNotification) and cancel.signal_id == 1


def test_suspensions_and_descriptions() -> None:
    suspension = m.SuspensionMessage(waiting_completions=(3, 1), waiting_signals=(17,))
    assert awaited_slots(suspension) == sorted([completion_slot(1), completion_slot(3), signal_slot(17)])
    entry = Entry(
        1,
        EntryKind.COMMAND,
        "greet",
        {},
        encode_message(m.CallCommand(service_name="Greeter", handler_name="greet")),
    )
    assert describe(entry) == {"type": "Call", "service_name": "Greeter", "handler_name": "greet"}
    notification = Entry(2, EntryKind.NOTIFICATION, "", {"s": 17}, None, Outcome())
    assert describe(notification) == {"signal_id": 17}


def test_a_stored_journal_knows_what_each_command_awaits_from_its_entry_data() -> None:
    # Read back, the journal types the notifications each command asks for from the entry's
    # data (no decoding of the commands); an entry without that data is decoded instead.
    journal = started()
    journal.add_command(
        m.CallCommand(
            service_name="S", handler_name="h", invocation_id_notification_idx=1, result_completion_id=2
        )
    )
    journal.add_command(
        m.OneWayCallCommand(service_name="S", handler_name="h", invocation_id_notification_idx=3)
    )
    journal.add_command(m.SleepCommand(wake_up_time=1, result_completion_id=4))
    journal.add_command(m.GetPromiseCommand(key="p", result_completion_id=5))
    journal.add_command(m.SetStateCommand(key=b"k", value=m.Value(b"1")))
    journal.add_command(m.AttachInvocationCommand(target="inv_x", result_completion_id=6))
    assert RemoteJournal(journal.entries).awaits == journal.awaits
    assert journal.awaits[1] is m.CallInvocationIdCompletionNotification
    assert journal.awaits[2] is m.CallCompletionNotification
    without_data = [Entry(e.index, e.kind, e.name, {}, e.payload, e.outcome) for e in journal.entries]
    assert RemoteJournal(without_data).awaits == journal.awaits
