"""The notifications of the protocol (type codes `0x8000-0xFBFF`): completions of commands (the
command's code | 0x8000, matched by `completion_id`) and signals.
"""

# The field helpers (u32, message, oneof, ...) return dataclasses.field(...) with wire metadata.
# ruff: noqa: RUF009

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from awaken.protocol.messages.families import MessageType, Notification
from awaken.protocol.messages.values import (
    SIGNAL_ID_ALTERNATIVES,
    VOID_VALUE_FAILURE_ALTERNATIVES,
    Failure,
    StateKeys,
    Value,
    Void,
)
from awaken.protocol.schema import (
    Kind,
    alt,
    message,
    oneof,
    string,
    u32,
    wire,
)


@wire
@dataclass(frozen=True, slots=True)
class GetLazyStateCompletionNotification(Notification):
    TYPE: ClassVar[MessageType] = MessageType.GET_LAZY_STATE_COMPLETION
    completion_id: int = u32(1)
    result: Void | Value | None = oneof(
        alt("void", 4, Kind.MESSAGE, Void), alt("value", 5, Kind.MESSAGE, Value)
    )


@wire
@dataclass(frozen=True, slots=True)
class GetLazyStateKeysCompletionNotification(Notification):
    TYPE: ClassVar[MessageType] = MessageType.GET_LAZY_STATE_KEYS_COMPLETION
    completion_id: int = u32(1)
    state_keys: StateKeys | None = message(17, StateKeys)


_VALUE_OR_FAILURE_5 = (alt("value", 5, Kind.MESSAGE, Value), alt("failure", 6, Kind.MESSAGE, Failure))


@wire
@dataclass(frozen=True, slots=True)
class GetPromiseCompletionNotification(Notification):
    TYPE: ClassVar[MessageType] = MessageType.GET_PROMISE_COMPLETION
    completion_id: int = u32(1)
    result: Value | Failure | None = oneof(*_VALUE_OR_FAILURE_5)


@wire
@dataclass(frozen=True, slots=True)
class PeekPromiseCompletionNotification(Notification):
    TYPE: ClassVar[MessageType] = MessageType.PEEK_PROMISE_COMPLETION
    completion_id: int = u32(1)
    result: Void | Value | Failure | None = oneof(*VOID_VALUE_FAILURE_ALTERNATIVES)


@wire
@dataclass(frozen=True, slots=True)
class CompletePromiseCompletionNotification(Notification):
    TYPE: ClassVar[MessageType] = MessageType.COMPLETE_PROMISE_COMPLETION
    completion_id: int = u32(1)
    result: Void | Failure | None = oneof(
        alt("void", 4, Kind.MESSAGE, Void), alt("failure", 6, Kind.MESSAGE, Failure)
    )


@wire
@dataclass(frozen=True, slots=True)
class SleepCompletionNotification(Notification):
    TYPE: ClassVar[MessageType] = MessageType.SLEEP_COMPLETION
    completion_id: int = u32(1)
    void: Void | None = message(4, Void)


@wire
@dataclass(frozen=True, slots=True)
class CallInvocationIdCompletionNotification(Notification):
    TYPE: ClassVar[MessageType] = MessageType.CALL_INVOCATION_ID_COMPLETION
    completion_id: int = u32(1)
    invocation_id: str = string(16)


@wire
@dataclass(frozen=True, slots=True)
class CallCompletionNotification(Notification):
    TYPE: ClassVar[MessageType] = MessageType.CALL_COMPLETION
    completion_id: int = u32(1)
    result: Value | Failure | None = oneof(*_VALUE_OR_FAILURE_5)


@wire
@dataclass(frozen=True, slots=True)
class RunCompletionNotification(Notification):
    TYPE: ClassVar[MessageType] = MessageType.RUN_COMPLETION
    completion_id: int = u32(1)
    result: Value | Failure | None = oneof(*_VALUE_OR_FAILURE_5)


@wire
@dataclass(frozen=True, slots=True)
class AttachInvocationCompletionNotification(Notification):
    TYPE: ClassVar[MessageType] = MessageType.ATTACH_INVOCATION_COMPLETION
    completion_id: int = u32(1)
    result: Value | Failure | None = oneof(*_VALUE_OR_FAILURE_5)


@wire
@dataclass(frozen=True, slots=True)
class GetInvocationOutputCompletionNotification(Notification):
    TYPE: ClassVar[MessageType] = MessageType.GET_INVOCATION_OUTPUT_COMPLETION
    completion_id: int = u32(1)
    result: Void | Value | Failure | None = oneof(*VOID_VALUE_FAILURE_ALTERNATIVES)


@wire
@dataclass(frozen=True, slots=True)
class SignalNotification(Notification):
    """A signal: an awakeable's completion (index >= 17), a cancellation (index 1), a named signal."""

    TYPE: ClassVar[MessageType] = MessageType.SIGNAL_NOTIFICATION
    signal_id: int | str | None = oneof(*SIGNAL_ID_ALTERNATIVES)
    result: Void | Value | Failure | None = oneof(*VOID_VALUE_FAILURE_ALTERNATIVES)
