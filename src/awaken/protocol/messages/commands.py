"""The commands of the protocol (type codes `0x0400-0x7FFF`, and custom entries): the journal
entries an SDK writes and the runtime replays.
"""

# The field helpers (u32, message, oneof, ...) return dataclasses.field(...) with wire metadata.
# ruff: noqa: RUF009

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from awaken.protocol.messages.families import Command, MessageType
from awaken.protocol.messages.values import (
    SIGNAL_ID_ALTERNATIVES,
    VOID_VALUE_FAILURE_ALTERNATIVES,
    Failure,
    Header,
    IdempotentRequestTarget,
    StateKeys,
    Value,
    Void,
    WorkflowTarget,
)
from awaken.protocol.schema import (
    Kind,
    alt,
    bytes_,
    message,
    oneof,
    optional,
    repeated,
    string,
    u32,
    u64,
    wire,
)


@wire
@dataclass(frozen=True, slots=True)
class InputCommand(Command):
    TYPE: ClassVar[MessageType] = MessageType.INPUT_COMMAND
    headers: tuple[Header, ...] = repeated(1, Kind.MESSAGE, Header)
    value: Value | None = message(14, Value)
    name: str = string(12)


_VALUE_OR_FAILURE_14 = (alt("value", 14, Kind.MESSAGE, Value), alt("failure", 15, Kind.MESSAGE, Failure))


@wire
@dataclass(frozen=True, slots=True)
class OutputCommand(Command):
    TYPE: ClassVar[MessageType] = MessageType.OUTPUT_COMMAND
    result: Value | Failure | None = oneof(*_VALUE_OR_FAILURE_14)
    name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class GetLazyStateCommand(Command):
    TYPE: ClassVar[MessageType] = MessageType.GET_LAZY_STATE_COMMAND
    key: bytes = bytes_(1)
    result_completion_id: int = u32(11)
    name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class SetStateCommand(Command):
    TYPE: ClassVar[MessageType] = MessageType.SET_STATE_COMMAND
    key: bytes = bytes_(1)
    value: Value | None = message(3, Value)
    name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class ClearStateCommand(Command):
    TYPE: ClassVar[MessageType] = MessageType.CLEAR_STATE_COMMAND
    key: bytes = bytes_(1)
    name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class ClearAllStateCommand(Command):
    TYPE: ClassVar[MessageType] = MessageType.CLEAR_ALL_STATE_COMMAND
    name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class GetLazyStateKeysCommand(Command):
    TYPE: ClassVar[MessageType] = MessageType.GET_LAZY_STATE_KEYS_COMMAND
    result_completion_id: int = u32(11)
    name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class GetEagerStateCommand(Command):
    """A state read answered from `StartMessage.state_map`, result inlined (`Void`: no value)."""

    TYPE: ClassVar[MessageType] = MessageType.GET_EAGER_STATE_COMMAND
    key: bytes = bytes_(1)
    result: Void | Value | None = oneof(
        alt("void", 13, Kind.MESSAGE, Void), alt("value", 14, Kind.MESSAGE, Value)
    )
    name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class GetEagerStateKeysCommand(Command):
    TYPE: ClassVar[MessageType] = MessageType.GET_EAGER_STATE_KEYS_COMMAND
    value: StateKeys | None = message(14, StateKeys)
    name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class GetPromiseCommand(Command):
    TYPE: ClassVar[MessageType] = MessageType.GET_PROMISE_COMMAND
    key: str = string(1)
    result_completion_id: int = u32(11)
    name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class PeekPromiseCommand(Command):
    TYPE: ClassVar[MessageType] = MessageType.PEEK_PROMISE_COMMAND
    key: str = string(1)
    result_completion_id: int = u32(11)
    name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class CompletePromiseCommand(Command):
    TYPE: ClassVar[MessageType] = MessageType.COMPLETE_PROMISE_COMMAND
    key: str = string(1)
    completion: Value | Failure | None = oneof(
        alt("completion_value", 2, Kind.MESSAGE, Value), alt("completion_failure", 3, Kind.MESSAGE, Failure)
    )
    result_completion_id: int = u32(11)
    name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class SleepCommand(Command):
    TYPE: ClassVar[MessageType] = MessageType.SLEEP_COMMAND
    wake_up_time: int = u64(1)  # milliseconds since the Unix epoch
    result_completion_id: int = u32(11)
    name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class CallCommand(Command):
    """A request-response call: completes `invocation_id_notification_idx` with the callee's id,
    then `result_completion_id` with its result."""

    TYPE: ClassVar[MessageType] = MessageType.CALL_COMMAND
    service_name: str = string(1)
    handler_name: str = string(2)
    parameter: bytes = bytes_(3)
    headers: tuple[Header, ...] = repeated(4, Kind.MESSAGE, Header)
    key: str = string(5)
    idempotency_key: str | None = optional(6, Kind.STRING)
    scope: str | None = optional(7, Kind.STRING)  # V7
    limit_key: str | None = optional(8, Kind.STRING)  # V7
    invocation_id_notification_idx: int = u32(10)
    result_completion_id: int = u32(11)
    name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class OneWayCallCommand(Command):
    """A send: only the callee's invocation id comes back. `invoke_time` (ms since the epoch, 0 = now)."""

    TYPE: ClassVar[MessageType] = MessageType.ONE_WAY_CALL_COMMAND
    service_name: str = string(1)
    handler_name: str = string(2)
    parameter: bytes = bytes_(3)
    invoke_time: int = u64(4)
    headers: tuple[Header, ...] = repeated(5, Kind.MESSAGE, Header)
    key: str = string(6)
    idempotency_key: str | None = optional(7, Kind.STRING)
    scope: str | None = optional(8, Kind.STRING)  # V7
    limit_key: str | None = optional(9, Kind.STRING)  # V7
    invocation_id_notification_idx: int = u32(10)
    name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class SendSignalCommand(Command):
    """Deliver a signal (index or name) to another invocation; index 1 cancels it."""

    TYPE: ClassVar[MessageType] = MessageType.SEND_SIGNAL_COMMAND
    target_invocation_id: str = string(1)
    signal_id: int | str | None = oneof(*SIGNAL_ID_ALTERNATIVES)
    result: Void | Value | Failure | None = oneof(*VOID_VALUE_FAILURE_ALTERNATIVES)
    entry_name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class RunCommand(Command):
    TYPE: ClassVar[MessageType] = MessageType.RUN_COMMAND
    result_completion_id: int = u32(11)
    name: str = string(12)


_TARGET = (
    alt("invocation_id", 1, Kind.STRING),
    alt("idempotent_request_target", 3, Kind.MESSAGE, IdempotentRequestTarget),
    alt("workflow_target", 4, Kind.MESSAGE, WorkflowTarget),
)


@wire
@dataclass(frozen=True, slots=True)
class AttachInvocationCommand(Command):
    TYPE: ClassVar[MessageType] = MessageType.ATTACH_INVOCATION_COMMAND
    target: str | IdempotentRequestTarget | WorkflowTarget | None = oneof(*_TARGET)
    result_completion_id: int = u32(11)
    name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class GetInvocationOutputCommand(Command):
    TYPE: ClassVar[MessageType] = MessageType.GET_INVOCATION_OUTPUT_COMMAND
    target: str | IdempotentRequestTarget | WorkflowTarget | None = oneof(*_TARGET)
    result_completion_id: int = u32(11)
    name: str = string(12)


@wire
@dataclass(frozen=True, slots=True)
class CompleteAwakeableCommand(Command):
    TYPE: ClassVar[MessageType] = MessageType.COMPLETE_AWAKEABLE_COMMAND
    awakeable_id: str = string(1)
    result: Value | Failure | None = oneof(
        alt("value", 2, Kind.MESSAGE, Value), alt("failure", 3, Kind.MESSAGE, Failure)
    )
    name: str = string(12)


@dataclass(frozen=True, slots=True)
class CustomEntry(Command):
    """A command in the custom range (0xFC00-0xFFFF): persisted and replayed, never interpreted."""

    type_code: int
    payload: bytes
