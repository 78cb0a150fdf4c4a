"""The control messages of the protocol (type codes `0x0000-0x03FF`): start, suspension, error,
end, run proposals and their acknowledgement, awaiting-on; with the constants they carry.
"""

# The field helpers (u32, message, oneof, ...) return dataclasses.field(...) with wire metadata.
# ruff: noqa: RUF009

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from awaken.protocol.messages.families import ControlMessage, MessageType
from awaken.protocol.messages.values import Failure, Future, StateEntry
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


@wire_enum
class ErrorBehavior(enum.IntEnum):
    """What the runtime does after an `ErrorMessage` (V7; 0 is what older versions mean)."""

    RETRY = 0
    PAUSE = 1
    FAIL = 2


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
