"""The journal of an invocation whose handler is served elsewhere, as the runtime side of
Restate's service protocol keeps it. Pure: messages in, entries and messages out.

The journal is a log of the protocol's messages in the order they were stored: the SDK's
commands (kept as their encoded frames, replayed as they came) and the notifications that
completed them (by completion id) or that signalled the invocation (by signal index). A
notification stored by the engine's rules (a timer fired, a call returned, an awakeable was
resolved) carries its outcome only; its message type follows from the command that asked for it.

What comes from the SDK is untrusted: `check_command` refuses what the protocol does not allow
(a second input, a completion id used twice) with a ProtocolViolation, which fails the attempt.

What each message means to the store and to the attempt is `awaken.protocol.runtime`'s; the
admin API shows entries with `describe`. Both live in `awaken.protocol`, which may import the
core (its journal values), never the other way round.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from awaken.core.journal import Entry, EntryKind, Outcome, completion_slot, signal_slot, slot_signal
from awaken.protocol import CodecError, decode_messages, encode_message
from awaken.protocol import messages as m

PROTOCOL_VIOLATION = m.PROTOCOL_VIOLATION
CANCEL_SIGNAL = m.CANCEL_SIGNAL_INDEX


class ProtocolViolation(Exception):
    """The deployment broke the protocol (code 571): the attempt fails and is retried."""


# The notification that completes each completion id a command asks for.
def _asked(command: m.Command) -> list[tuple[int, type[m.Notification]]]:
    match command:
        case m.CallCommand():
            return [
                (command.invocation_id_notification_idx, m.CallInvocationIdCompletionNotification),
                (command.result_completion_id, m.CallCompletionNotification),
            ]
        case m.OneWayCallCommand():
            return [(command.invocation_id_notification_idx, m.CallInvocationIdCompletionNotification)]
        case m.SleepCommand():
            return [(command.result_completion_id, m.SleepCompletionNotification)]
        case m.RunCommand():
            return [(command.result_completion_id, m.RunCompletionNotification)]
        case m.GetLazyStateCommand():
            return [(command.result_completion_id, m.GetLazyStateCompletionNotification)]
        case m.GetLazyStateKeysCommand():
            return [(command.result_completion_id, m.GetLazyStateKeysCompletionNotification)]
        case m.GetPromiseCommand():
            return [(command.result_completion_id, m.GetPromiseCompletionNotification)]
        case m.PeekPromiseCommand():
            return [(command.result_completion_id, m.PeekPromiseCompletionNotification)]
        case m.CompletePromiseCommand():
            return [(command.result_completion_id, m.CompletePromiseCompletionNotification)]
        case m.AttachInvocationCommand():
            return [(command.result_completion_id, m.AttachInvocationCompletionNotification)]
        case m.GetInvocationOutputCommand():
            return [(command.result_completion_id, m.GetInvocationOutputCompletionNotification)]
        case _:
            return []


def _notified_by() -> dict[int, tuple[type[m.Notification], ...]]:
    """The notification types each command type asks for, in the order its entry's data lists
    their completion ids: a stored journal is read without decoding its commands."""
    out: dict[int, tuple[type[m.Notification], ...]] = {}
    for cls in m.MESSAGE_CLASSES.values():
        if issubclass(cls, m.Command):
            out[int(cls.TYPE)] = tuple(notification for _, notification in _asked(cls()))
    return out


def outcome_of(result: Any) -> Outcome:
    """A protocol result (Void, Value, Failure, raw bytes) as an engine outcome."""
    match result:
        case m.Failure():
            return Outcome.fail(result.code, result.message)
        case m.Value():
            return Outcome(result.content)
        case bytes():
            return Outcome(result)
        case _:
            return Outcome()


def result_of(outcome: Outcome, *, void: bool = True) -> Any:
    """An engine outcome as a protocol result (a value-less success is Void where allowed)."""
    if outcome.failure is not None:
        return m.Failure(outcome.failure.code, outcome.failure.message)
    if outcome.value is None and void:
        return m.Void()
    return m.Value(outcome.value or b"")


def _notification(cls: type[m.Notification], completion_id: int, outcome: Outcome) -> m.Notification:
    """The message of type `cls` completing `completion_id` with `outcome`."""
    if cls is m.SleepCompletionNotification:
        return m.SleepCompletionNotification(completion_id, m.Void())
    if cls is m.CallInvocationIdCompletionNotification:
        return m.CallInvocationIdCompletionNotification(completion_id, (outcome.value or b"").decode())
    if cls is m.GetLazyStateKeysCompletionNotification:
        # stored as a JSON list of the names (any string, NUL included, survives it)
        names = json.loads(outcome.value) if outcome.value else []
        keys = tuple(str(k).encode() for k in names)
        return m.GetLazyStateKeysCompletionNotification(completion_id, m.StateKeys(keys))
    if cls is m.CompletePromiseCompletionNotification:
        return m.CompletePromiseCompletionNotification(completion_id, result_of(outcome))
    voidable = cls in (
        m.GetLazyStateCompletionNotification,
        m.PeekPromiseCompletionNotification,
        m.GetInvocationOutputCompletionNotification,
    )
    return cls(completion_id, result_of(outcome, void=voidable))  # type: ignore[call-arg]


_NOTIFIED_BY = _notified_by()


@dataclass(frozen=True, slots=True)
class Replay:
    frames: list[bytes]  # the journal's messages, encoded, after the StartMessage
    commands: int  # how many of them are commands


class RemoteJournal:
    """What the runtime knows of a remote invocation's journal during one attempt."""

    def __init__(self, stored: Sequence[Entry]) -> None:
        self.entries: list[Entry] = list(stored)
        self.awaits: dict[int, type[m.Notification]] = {}  # completion id -> its notification
        self.done: set[int] = set()  # slots with a notification
        self.commands = 0
        for entry in self.entries:
            if entry.kind is EntryKind.COMMAND:
                self.commands += 1
                ids = entry.data.get("completions") or []
                notified = _NOTIFIED_BY.get(entry.data.get("type", -1))
                if notified is not None and len(ids) == len(notified):
                    for completion_id, cls in zip(ids, notified, strict=True):
                        self.awaits[int(completion_id)] = cls
                else:  # (an entry without that data: its message says it)
                    for completion_id, cls in _asked(self._decode(entry)):  # type: ignore[arg-type]
                        self.awaits[completion_id] = cls
            elif entry.kind is EntryKind.NOTIFICATION:
                self.done.add(self._slot(entry))

    @staticmethod
    def _decode(entry: Entry) -> m.ProtocolMessage:
        try:
            [message] = decode_messages(entry.payload or b"")
        except (CodecError, ValueError) as exc:
            raise ProtocolViolation(f"journal entry {entry.index} cannot be decoded: {exc}") from exc
        return message

    @staticmethod
    def _slot(entry: Entry) -> int:
        if "s" in entry.data:
            return signal_slot(int(entry.data["s"]))
        return completion_slot(int(entry.data["c"]))

    @property
    def known_entries(self) -> int:
        return len(self.entries)

    # -- replay -------------------------------------------------------------------------------
    def replay(self) -> Replay:
        """The journal as the SDK is sent it: the stored frames as they are (they were encoded
        here, from messages decoded and checked when they came in), and a frame for each
        notification the store recorded as an outcome only."""
        out: list[bytes] = []
        for entry in self.entries:
            if entry.payload is not None:
                out.append(entry.payload)
            elif entry.kind is EntryKind.COMMAND:
                raise ProtocolViolation(f"journal entry {entry.index} holds no message")
            elif entry.kind is EntryKind.NOTIFICATION:
                out.append(encode_message(self.notification(self._slot(entry), entry.outcome or Outcome())))
        return Replay(out, self.commands)

    def notification(self, slot: int, outcome: Outcome) -> m.Notification:
        """The message that delivers `outcome` to `slot` (a completion id or a signal)."""
        signal = slot_signal(slot)
        if signal is not None:
            return m.SignalNotification(signal, result_of(outcome))
        cls = self.awaits.get(slot)
        if cls is None:
            raise ProtocolViolation(f"no command of this journal awaits completion {slot}")
        return _notification(cls, slot, outcome)

    # -- new entries --------------------------------------------------------------------------
    def check_command(self, command: m.Command) -> None:
        if isinstance(command, m.InputCommand):
            raise ProtocolViolation("the SDK sent an InputCommand: only the runtime sends the input")
        for completion_id, _ in _asked(command):
            if completion_id in self.awaits:
                raise ProtocolViolation(f"completion id {completion_id} is used twice")

    def add_input(self, command: m.InputCommand) -> Entry:
        """The first entry, which the runtime writes: the invocation's input."""
        if self.entries:
            raise ValueError("the input is the first entry of a journal")
        return self._add(command)

    def add_command(self, command: m.Command) -> Entry:
        """The entry that stores `command` (the store numbers it when appending)."""
        self.check_command(command)
        return self._add(command)

    def _add(self, command: m.Command) -> Entry:
        asked = _asked(command)
        for completion_id, cls in asked:
            self.awaits[completion_id] = cls
        self.commands += 1
        name = getattr(command, "name", "") or getattr(command, "entry_name", "") or ""
        data: dict[str, Any] = {"type": int(command.TYPE), "message": type(command).__name__}
        if asked:
            data["completions"] = [c for c, _ in asked]
        entry = Entry(len(self.entries), EntryKind.COMMAND, str(name), data, encode_message(command))
        self.entries.append(entry)
        return entry

    def add_notification(self, slot: int, outcome: Outcome, message: m.Notification | None = None) -> Entry:
        """A notification this attempt stores itself (one it answers at once), with its message."""
        message = message if message is not None else self.notification(slot, outcome)
        signal = slot_signal(slot)
        data: dict[str, Any] = {"s": signal} if signal is not None else {"c": slot}
        data["type"] = int(message.TYPE)
        entry = Entry(len(self.entries), EntryKind.NOTIFICATION, "", data, encode_message(message), outcome)
        self.entries.append(entry)
        self.done.add(slot)
        return entry

    def delivered(self, slot: int, outcome: Outcome) -> m.Notification | None:
        """A notification the rules stored while this attempt runs: the message to push to the
        SDK, unless it had it already."""
        if slot in self.done:
            return None
        self.done.add(slot)
        signal = slot_signal(slot)
        data: dict[str, Any] = {"s": signal} if signal is not None else {"c": slot}
        self.entries.append(Entry(len(self.entries), EntryKind.NOTIFICATION, "", data, None, outcome))
        return self.notification(slot, outcome)


def describe(entry: Entry) -> dict[str, Any]:
    """An entry of a remote journal as the admin API shows it: the message's type and its plain
    fields (ids, names, times; not the payloads, which the result shows)."""
    out: dict[str, Any] = {}
    if entry.kind is EntryKind.NOTIFICATION:
        if "s" in entry.data:
            out["signal_id"] = entry.data["s"]
        else:
            out["completion_id"] = entry.data.get("c")
    if entry.payload is None:
        return out
    try:
        [message] = decode_messages(entry.payload)
    except (CodecError, ValueError):
        return {**out, "type": "undecodable"}
    name = type(message).__name__
    for suffix in ("Command", "CompletionNotification", "Notification"):
        if name.endswith(suffix) and name != suffix:
            name = name[: -len(suffix)]
            break
    out["type"] = name
    for f in dataclasses.fields(message):  # type: ignore[arg-type]
        value = getattr(message, f.name)
        if f.name in out:
            continue
        if isinstance(value, bool):
            if value:
                out[f.name] = True
        elif isinstance(value, str | int | float) and value not in ("", 0):
            out[f.name] = value
    return out


def awaited_slots(suspension: m.SuspensionMessage) -> list[int]:
    """What a suspension waits on, as slots (named signals are not supported: ignored)."""
    completions, signals, _names = suspension.awaited()
    return sorted({completion_slot(c) for c in completions} | {signal_slot(s) for s in signals})


__all__ = [
    "CANCEL_SIGNAL",
    "PROTOCOL_VIOLATION",
    "ProtocolViolation",
    "RemoteJournal",
    "Replay",
    "awaited_slots",
    "describe",
    "outcome_of",
    "result_of",
]
