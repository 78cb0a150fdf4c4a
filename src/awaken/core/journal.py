"""Journal entries and their outcomes: the values the machine, the engine and the store share."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EntryKind(StrEnum):
    RUN = "run"
    SLEEP = "sleep"
    AWAKEABLE = "awakeable"
    COMPLETE_AWAKEABLE = "complete_awakeable"
    GET_STATE = "get_state"
    SET_STATE = "set_state"
    CLEAR_STATE = "clear_state"
    CLEAR_ALL_STATE = "clear_all_state"
    STATE_KEYS = "state_keys"
    CALL = "call"
    SEND = "send"
    WAIT = "wait"
    CANCEL = "cancel"
    ATTACH = "attach"
    GET_PROMISE = "get_promise"
    PEEK_PROMISE = "peek_promise"
    COMPLETE_PROMISE = "complete_promise"
    CANCEL_SIGNAL = "cancel_signal"  # where a cancellation was raised in the handler
    # Named signals: the k-th SIGNAL entry of a name receives the k-th signal of that name sent
    # to the invocation (data: its "ordinal" k); SEND_SIGNAL sends one to an invocation.
    SIGNAL = "signal"
    SEND_SIGNAL = "send_signal"
    # The journal of a handler served elsewhere (Restate's service protocol) is a log of its
    # messages: the SDK's commands, and the notifications the runtime sent it.
    COMMAND = "command"
    NOTIFICATION = "notification"


# A state value larger than this is not carried where it is not needed: a claim does not load it
# (the handler reads it when it asks for it), and the journal keeps a reference to it rather than a
# copy where replay can do without one.
LARGE_VALUE = 16 * 1024


def completion_slot(completion_id: int) -> int:
    """Where a notification of a remote invocation lands: its completion id, as such..."""
    return completion_id


def signal_slot(signal_index: int) -> int:
    """...or a signal index (an awakeable, a cancellation), below zero. Remote invocations are
    addressed by slot where local ones are by entry index (callers, timers, waiters)."""
    return -1 - signal_index


def slot_signal(slot: int) -> int | None:
    """The signal index of a slot; None for a completion id."""
    return -1 - slot if slot < 0 else None


# Kinds whose outcome is known the moment they are journaled.
IMMEDIATE_KINDS = frozenset(
    {
        EntryKind.SET_STATE,
        EntryKind.CLEAR_STATE,
        EntryKind.CLEAR_ALL_STATE,
        EntryKind.STATE_KEYS,
        EntryKind.SEND,
        EntryKind.WAIT,
        EntryKind.CANCEL,
        EntryKind.CANCEL_SIGNAL,
        EntryKind.SEND_SIGNAL,
    }
)


@dataclass(frozen=True, slots=True)
class Failure:
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of an entry: a serialized value (None means empty), or a terminal failure."""

    value: bytes | None = None
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    @classmethod
    def fail(cls, code: int, message: str) -> Outcome:
        return cls(None, Failure(code, message))


@dataclass(frozen=True, slots=True)
class Entry:
    index: int
    kind: EntryKind
    name: str = ""
    data: dict[str, Any] = field(default_factory=dict)  # small JSON metadata: ids, times, targets
    payload: bytes | None = None  # what the entry carries in: a state value, a call argument
    outcome: Outcome | None = None

    @property
    def completed(self) -> bool:
        return self.outcome is not None

    def with_data(self, data: dict[str, Any]) -> Entry:
        return Entry(self.index, self.kind, self.name, {**self.data, **data}, self.payload, self.outcome)

    def with_outcome(self, outcome: Outcome) -> Entry:
        # direct construction: dataclasses.replace costs several times more on this hot path
        return Entry(self.index, self.kind, self.name, self.data, self.payload, outcome)
