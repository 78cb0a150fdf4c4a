"""The values nested in protocol messages (payloads, failures, headers, state, call targets, the
`Future` tree of V7), and what commands and notifications share: the wire alternatives of their
results and signal ids, and the built-in signal indices.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from awaken.protocol.schema import (
    Kind,
    alt,
    bytes_,
    enum_,
    optional,
    repeated,
    string,
    u32,
    wire,
    wire_enum,
)

CANCEL_SIGNAL_INDEX = 1
"""Built-in signal index that cancels an invocation (indices 2-15 are reserved)."""
FIRST_AWAKEABLE_SIGNAL_INDEX = 17
"""The SDKs number the awakeables of an invocation 17, 18, ... (their signal indices)."""


@wire_enum
class CombinatorType(enum.IntEnum):
    """How a `Future` combines its children (V7); UNKNOWN is read as FIRST_COMPLETED."""

    UNKNOWN = 0
    FIRST_COMPLETED = 1
    ALL_COMPLETED = 2
    FIRST_SUCCEEDED_OR_ALL_FAILED = 3
    ALL_SUCCEEDED_OR_FIRST_FAILED = 4


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


# --- oneof alternatives shared by commands and notifications ---------------------------------

VOID_VALUE_FAILURE_ALTERNATIVES = (
    alt("void", 4, Kind.MESSAGE, Void),
    alt("value", 5, Kind.MESSAGE, Value),
    alt("failure", 6, Kind.MESSAGE, Failure),
)
"""A signal's result, a promise peek's, an invocation output's: void, a value or a failure."""
SIGNAL_ID_ALTERNATIVES = (alt("idx", 2, Kind.U32), alt("name", 3, Kind.STRING))
"""A signal is named by its index or by its name."""
