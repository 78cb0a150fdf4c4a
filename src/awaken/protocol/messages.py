"""The messages of Restate's service protocol (V5, V6 and V7), written here as typed values.

Field numbers and types follow the public protocol definition (`dev/restate/service/protocol.proto`
of restatedev/service-protocol, and `docs/service-invocation-protocol.md` of
restatedev/sdk-shared-core), so the bytes are the SDKs' bytes; the definitions are our own.

Three families, by type code range:
- control messages `0x0000-0x03FF` (start, suspension, error, end, run proposals, awaiting-on);
- commands `0x0400-0x7FFF`, which are journal entries the SDK writes (and the runtime replays);
- notifications `0x8000-0xFBFF`: completions of commands (command code | 0x8000) and signals.
Custom entries (`0xFC00-0xFFFF`) are opaque commands: `CustomEntry` keeps their bytes.

Version notes: V6 added `StartMessage.random_seed` and `Failure.metadata`; V7 added `Future`,
`AwaitingOnMessage`, `ProposeRunCompletionAckMessage`, `SuspensionMessage.awaiting_on` (in place
of the flat `waiting_*` lists, which V5/V6 use), scope / limit key fields, named signals in
suspensions and `ErrorMessage.behavior`. Both shapes of `SuspensionMessage` decode into the one
class below; `SuspensionMessage.awaited()` reads either.
"""

# The field helpers (u32, message, oneof, ...) return dataclasses.field(...) with wire metadata.
# ruff: noqa: RUF009

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar, TypeAlias

from awaken.protocol.schema import (
    Kind,
    alt,
    boolean,
    bytes_,
    enum_,
    header_flag,
    message,
    oneof,
    optional,
    repeated,
    seal,
    string,
    u32,
    u64,
    wire,
    wire_enum,
)

REQUESTED_ACK_FLAG = 0x8000
"""Most significant bit of the header's flags: the SDK asks for a `ProposeRunCompletionAckMessage`."""

JOURNAL_MISMATCH = 570
"""`ErrorMessage.code` an SDK sends when the replayed journal does not match its code."""
PROTOCOL_VIOLATION = 571
"""`ErrorMessage.code` an SDK sends when it received a message it did not expect."""

CANCEL_SIGNAL_INDEX = 1
"""Built-in signal index that cancels an invocation (indices 2-15 are reserved)."""
FIRST_AWAKEABLE_SIGNAL_INDEX = 17
"""The SDKs number the awakeables of an invocation 17, 18, ... (their signal indices)."""


class MessageType(enum.IntEnum):
    """Every message type code of the protocol."""

    START = 0x0000
    SUSPENSION = 0x0001
    ERROR = 0x0002
    END = 0x0003
    PROPOSE_RUN_COMPLETION = 0x0005
    AWAITING_ON = 0x0006
    PROPOSE_RUN_COMPLETION_ACK = 0x0007
    INPUT_COMMAND = 0x0400
    OUTPUT_COMMAND = 0x0401
    GET_LAZY_STATE_COMMAND = 0x0402
    SET_STATE_COMMAND = 0x0403
    CLEAR_STATE_COMMAND = 0x0404
    CLEAR_ALL_STATE_COMMAND = 0x0405
    GET_LAZY_STATE_KEYS_COMMAND = 0x0406
    GET_EAGER_STATE_COMMAND = 0x0407
    GET_EAGER_STATE_KEYS_COMMAND = 0x0408
    GET_PROMISE_COMMAND = 0x0409
    PEEK_PROMISE_COMMAND = 0x040A
    COMPLETE_PROMISE_COMMAND = 0x040B
    SLEEP_COMMAND = 0x040C
    CALL_COMMAND = 0x040D
    ONE_WAY_CALL_COMMAND = 0x040E
    SEND_SIGNAL_COMMAND = 0x0410
    RUN_COMMAND = 0x0411
    ATTACH_INVOCATION_COMMAND = 0x0412
    GET_INVOCATION_OUTPUT_COMMAND = 0x0413
    COMPLETE_AWAKEABLE_COMMAND = 0x0414
    GET_LAZY_STATE_COMPLETION = 0x8002
    GET_LAZY_STATE_KEYS_COMPLETION = 0x8006
    GET_PROMISE_COMPLETION = 0x8009
    PEEK_PROMISE_COMPLETION = 0x800A
    COMPLETE_PROMISE_COMPLETION = 0x800B
    SLEEP_COMPLETION = 0x800C
    CALL_COMPLETION = 0x800D
    CALL_INVOCATION_ID_COMPLETION = 0x800E
    RUN_COMPLETION = 0x8011
    ATTACH_INVOCATION_COMPLETION = 0x8012
    GET_INVOCATION_OUTPUT_COMPLETION = 0x8013
    SIGNAL_NOTIFICATION = 0xFBFF


def is_command_code(code: int) -> bool:
    return 0x0400 <= code < 0x8000 or is_custom_code(code)


def is_notification_code(code: int) -> bool:
    return 0x8000 <= code < 0xFC00


def is_custom_code(code: int) -> bool:
    return 0xFC00 <= code <= 0xFFFF


@wire_enum
class ErrorBehavior(enum.IntEnum):
    """What the runtime does after an `ErrorMessage` (V7; 0 is what older versions mean)."""

    RETRY = 0
    PAUSE = 1
    FAIL = 2


@wire_enum
class CombinatorType(enum.IntEnum):
    """How a `Future` combines its children (V7); UNKNOWN is read as FIRST_COMPLETED."""

    UNKNOWN = 0
    FIRST_COMPLETED = 1
    ALL_COMPLETED = 2
    FIRST_SUCCEEDED_OR_ALL_FAILED = 3
    ALL_SUCCEEDED_OR_FIRST_FAILED = 4


# --- values nested in messages ---------------------------------------------------------------


@wire
@dataclass(frozen=True, slots=True)
class Void:
    """The empty result (a missing state value, a completed sleep, a void promise)."""


@wire
@dataclass(frozen=True, slots=True)
class Value:
    content: bytes = bytes_(1)


@wire
@dataclass(frozen=True, slots=True)
class FailureMetadata:
    key: str = string(1)
    value: str = string(2)


@wire
@dataclass(frozen=True, slots=True)
class Failure:
    """A user-visible failure: a terminal error output, a failed call or run."""

    code: int = u32(1)
    message: str = string(2)
    metadata: tuple[FailureMetadata, ...] = repeated(3, Kind.MESSAGE, FailureMetadata)


@wire
@dataclass(frozen=True, slots=True)
class Header:
    key: str = string(1)
    value: str = string(2)


@wire
@dataclass(frozen=True, slots=True)
class StateKeys:
    keys: tuple[bytes, ...] = repeated(1, Kind.BYTES)


@wire
@dataclass(frozen=True, slots=True)
class StateEntry:
    key: bytes = bytes_(1)
    value: bytes = bytes_(2)  # empty is an empty value, not a missing one


@wire
@dataclass(frozen=True, slots=True)
class WorkflowTarget:
    workflow_name: str = string(1)
    workflow_key: str = string(2)
    scope: str | None = optional(3, Kind.STRING)


@wire
@dataclass(frozen=True, slots=True)
class IdempotentRequestTarget:
    service_name: str = string(1)
    service_key: str | None = optional(2, Kind.STRING)
    handler_name: str = string(3)
    idempotency_key: str = string(4)
    scope: str | None = optional(5, Kind.STRING)


@wire
@dataclass(frozen=True, slots=True)
class Future:
    """An await point as a tree (V7): leaves are completion ids, signal indices, signal names."""

    waiting_completions: tuple[int, ...] = repeated(1, Kind.U32)
    waiting_signals: tuple[int, ...] = repeated(2, Kind.U32)
    waiting_named_signals: tuple[str, ...] = repeated(3, Kind.STRING)
    nested_futures: tuple[Future, ...] = repeated(4, Kind.MESSAGE, "Future")
    combinator_type: int = enum_(5, CombinatorType, CombinatorType.UNKNOWN)

    def leaves(self) -> tuple[frozenset[int], frozenset[int], frozenset[str]]:
        """Every completion id, signal index and signal name anywhere in the tree."""
        completions, signals, names = (
            set(self.waiting_completions),
            set(self.waiting_signals),
            set(self.waiting_named_signals),
        )
        stack = list(self.nested_futures)
        while stack:
            node = stack.pop()
            completions.update(node.waiting_completions)
            signals.update(node.waiting_signals)
            names.update(node.waiting_named_signals)
            stack.extend(node.nested_futures)
        return frozenset(completions), frozenset(signals), frozenset(names)


# --- the three families ----------------------------------------------------------------------


class ControlMessage:
    __slots__ = ()
    TYPE: ClassVar[MessageType]


class Command:
    """A journal entry written by the SDK; `name` is its entry name (shown in tooling)."""

    __slots__ = ()
    TYPE: ClassVar[MessageType]


class Notification:
    """A completion of a command (by `completion_id`) or a signal (by index or name)."""

    __slots__ = ()
    TYPE: ClassVar[MessageType]


# --- control ---------------------------------------------------------------------------------


@wire
@dataclass(frozen=True, slots=True)
class StartMessage(ControlMessage):
    """First message of every stream, from the runtime."""

    TYPE: ClassVar[MessageType] = MessageType.START
    id: bytes = bytes_(1)
    debug_id: str = string(2)
    known_entries: int = u32(3)
    state_map: tuple[StateEntry, ...] = repeated(4, Kind.MESSAGE, StateEntry)
    partial_state: bool = boolean(5)
    key: str = string(6)
    retry_count_since_last_stored_entry: int = u32(7)
    duration_since_last_stored_entry: int = u64(8)  # milliseconds
    random_seed: int = u64(9)  # V6
    scope: str | None = optional(10, Kind.STRING)  # V7
    limit_key: str | None = optional(11, Kind.STRING)  # V7
    idempotency_key: str | None = optional(12, Kind.STRING)  # V7


@wire
@dataclass(frozen=True, slots=True)
class SuspensionMessage(ControlMessage):
    """The SDK parks the invocation until one of what it awaits arrives."""

    TYPE: ClassVar[MessageType] = MessageType.SUSPENSION
    waiting_completions: tuple[int, ...] = repeated(1, Kind.U32)  # V5, V6
    waiting_signals: tuple[int, ...] = repeated(2, Kind.U32)  # V5, V6
    waiting_named_signals: tuple[str, ...] = repeated(3, Kind.STRING)  # V5, V6
    awaiting_on: Future | None = message(4, Future)  # V7

    def awaited(self) -> tuple[frozenset[int], frozenset[int], frozenset[str]]:
        """Completion ids, signal indices and signal names awaited, whichever version sent it."""
        tree = Future(
            self.waiting_completions,
            self.waiting_signals,
            self.waiting_named_signals,
            (self.awaiting_on,) if self.awaiting_on is not None else (),
        )
        return tree.leaves()


@wire
@dataclass(frozen=True, slots=True)
class ErrorMessage(ControlMessage):
    """The attempt failed (retryable); `next_retry_delay` in milliseconds overrides the policy once."""

    TYPE: ClassVar[MessageType] = MessageType.ERROR
    code: int = u32(1)
    message: str = string(2)
    stacktrace: str = string(3)
    related_command_index: int | None = optional(4, Kind.U32)
    related_command_name: str | None = optional(5, Kind.STRING)
    related_command_type: int | None = optional(6, Kind.U32)
    next_retry_delay: int | None = optional(8, Kind.U64)
    behavior: int = enum_(9, ErrorBehavior, ErrorBehavior.RETRY)  # V7


@wire
@dataclass(frozen=True, slots=True)
class EndMessage(ControlMessage):
    """The invocation is over (after its `OutputCommand`)."""

    TYPE: ClassVar[MessageType] = MessageType.END


@wire
@dataclass(frozen=True, slots=True)
class ProposeRunCompletionMessage(ControlMessage):
    """The SDK proposes the result of a `ctx.run`; the runtime stores it, then answers with the
    `RunCompletionNotification` or, if `requested_ack` (a header flag), an ack (V7)."""

    TYPE: ClassVar[MessageType] = MessageType.PROPOSE_RUN_COMPLETION
    result_completion_id: int = u32(1)
    result: bytes | Failure | None = oneof(
        alt("value", 14, Kind.BYTES), alt("failure", 15, Kind.MESSAGE, Failure)
    )
    requested_ack: bool = header_flag(REQUESTED_ACK_FLAG)


@wire
@dataclass(frozen=True, slots=True)
class AwaitingOnMessage(ControlMessage):
    """V7: what user code is blocked on (a hint; stale once a matching notification is sent)."""

    TYPE: ClassVar[MessageType] = MessageType.AWAITING_ON
    awaiting_on: Future | None = message(1, Future)
    executing_side_effects: bool = boolean(2)


@wire
@dataclass(frozen=True, slots=True)
class ProposeRunCompletionAckMessage(ControlMessage):
    """V7: the proposed run result is stored (its place among notifications counts on replay)."""

    TYPE: ClassVar[MessageType] = MessageType.PROPOSE_RUN_COMPLETION_ACK
    completion_id: int = u32(1)


# --- commands ----------------------------------------------------------------------------------


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


_VOID_VALUE_FAILURE = (
    alt("void", 4, Kind.MESSAGE, Void),
    alt("value", 5, Kind.MESSAGE, Value),
    alt("failure", 6, Kind.MESSAGE, Failure),
)
_SIGNAL_ID = (alt("idx", 2, Kind.U32), alt("name", 3, Kind.STRING))


@wire
@dataclass(frozen=True, slots=True)
class SendSignalCommand(Command):
    """Deliver a signal (index or name) to another invocation; index 1 cancels it."""

    TYPE: ClassVar[MessageType] = MessageType.SEND_SIGNAL_COMMAND
    target_invocation_id: str = string(1)
    signal_id: int | str | None = oneof(*_SIGNAL_ID)
    result: Void | Value | Failure | None = oneof(*_VOID_VALUE_FAILURE)
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


# --- notifications -----------------------------------------------------------------------------


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
    result: Void | Value | Failure | None = oneof(*_VOID_VALUE_FAILURE)


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
    result: Void | Value | Failure | None = oneof(*_VOID_VALUE_FAILURE)


@wire
@dataclass(frozen=True, slots=True)
class SignalNotification(Notification):
    """A signal: an awakeable's completion (index >= 17), a cancellation (index 1), a named signal."""

    TYPE: ClassVar[MessageType] = MessageType.SIGNAL_NOTIFICATION
    signal_id: int | str | None = oneof(*_SIGNAL_ID)
    result: Void | Value | Failure | None = oneof(*_VOID_VALUE_FAILURE)


seal()

ProtocolMessage: TypeAlias = ControlMessage | Command | Notification
"""Any message that travels on an invocation stream."""

MESSAGE_CLASSES: dict[int, type[ProtocolMessage]] = {
    cls.TYPE: cls
    for cls in (
        StartMessage,
        SuspensionMessage,
        ErrorMessage,
        EndMessage,
        ProposeRunCompletionMessage,
        AwaitingOnMessage,
        ProposeRunCompletionAckMessage,
        InputCommand,
        OutputCommand,
        GetLazyStateCommand,
        SetStateCommand,
        ClearStateCommand,
        ClearAllStateCommand,
        GetLazyStateKeysCommand,
        GetEagerStateCommand,
        GetEagerStateKeysCommand,
        GetPromiseCommand,
        PeekPromiseCommand,
        CompletePromiseCommand,
        SleepCommand,
        CallCommand,
        OneWayCallCommand,
        SendSignalCommand,
        RunCommand,
        AttachInvocationCommand,
        GetInvocationOutputCommand,
        CompleteAwakeableCommand,
        GetLazyStateCompletionNotification,
        GetLazyStateKeysCompletionNotification,
        GetPromiseCompletionNotification,
        PeekPromiseCompletionNotification,
        CompletePromiseCompletionNotification,
        SleepCompletionNotification,
        CallInvocationIdCompletionNotification,
        CallCompletionNotification,
        RunCompletionNotification,
        AttachInvocationCompletionNotification,
        GetInvocationOutputCompletionNotification,
        SignalNotification,
    )
}
"""Type code -> message class, for every type of `MessageType`."""
