"""Named signals of the handler's context: `ctx.signal(name)` awaits the next signal of that name
sent to this invocation; `ctx.resolve_signal` / `ctx.reject_signal` send one to an invocation.

The k-th `ctx.signal(name)` of an invocation journals a SIGNAL entry with ordinal k and receives
the k-th signal of that name that arrived for it (the store keeps those that arrive before the
handler asks). Sending journals a SEND_SIGNAL entry: the store delivers the signal in the same
transaction that stores the entry, so a retried or replayed attempt never sends it twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from awaken.core.ids import InvocationId
from awaken.core.journal import EntryKind, Outcome
from awaken.errors import BadRequest, TerminalError
from awaken.sdk.futures import DurableFuture

if TYPE_CHECKING:
    from awaken.sdk.invocation import InvocationContext


class SignalOrdinals:
    """How many times the handler asked for each signal name so far (replayed asks included):
    the ordinal of the next ask of a name."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def next(self, name: str) -> int:
        ordinal = self._counts.get(name, 0) + 1
        self._counts[name] = ordinal
        return ordinal


def await_signal(
    ctx: InvocationContext, ordinals: SignalOrdinals, name: str, decode: Callable[[bytes], Any]
) -> DurableFuture[Any]:
    """The future of the next signal `name` of this invocation (a TerminalError if rejected)."""
    ordinal = ordinals.next(name)
    data = None if ctx.machine.replaying else {"ordinal": ordinal}
    entry = ctx._step(EntryKind.SIGNAL, name, data=data)
    return DurableFuture(ctx, entry.index, decode)


def send_signal(ctx: InvocationContext, invocation_id: str, name: str, outcome: Outcome) -> None:
    """Send signal `name` with `outcome` to an invocation (fire and forget: an unknown or
    completed invocation drops it). A malformed invocation id is a TerminalError(400)."""
    try:
        target = str(InvocationId.parse(invocation_id))
    except BadRequest as exc:
        raise TerminalError(str(exc), 400) from None
    data: dict[str, Any] = {"invocation_id": target}
    if outcome.failure is not None:
        data.update(code=outcome.failure.code, message=outcome.failure.message)
    ctx._step(EntryKind.SEND_SIGNAL, name, data=data, payload=outcome.value)
