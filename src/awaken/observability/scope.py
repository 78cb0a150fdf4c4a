"""Which invocation the running code belongs to, whether its handler is replaying, and the
tracer of its attempt.

An attempt sets the scope once, at the top of its task; the tasks it starts (ctx.run steps)
and the threads its blocking steps run in inherit it through `contextvars`. Log filters and
trace hooks read it; nothing in here touches the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, NamedTuple


def _never() -> bool:
    return False


class InvocationScope(NamedTuple):
    """An immutable value like the frozen dataclasses elsewhere; a NamedTuple because one is made
    per attempt, and it costs a third of a frozen dataclass to make."""

    invocation_id: str
    service: str
    handler: str
    key: str | None
    # Asked when a line is logged, not when the scope is set: the handler moves from replay to
    # new work while the scope stays the same.
    replaying: Callable[[], bool] = _never
    tracer: Any = None  # the attempt's OpenTelemetry tracer; None: no spans (looked up once)

    @property
    def target(self) -> str:
        return "/".join(p for p in (self.service, self.key, self.handler) if p is not None)


# The hooks use these two directly (`.get()`, `.set()`): they run several times per invocation.
SCOPE: ContextVar[InvocationScope | None] = ContextVar("awaken_invocation", default=None)
# True in a ctx.run step's task: its function runs for real whatever the handler replays (it only
# runs when its result is not recorded).
LIVE: ContextVar[bool] = ContextVar("awaken_live", default=False)


def current_scope() -> InvocationScope | None:
    return SCOPE.get()


def is_replaying() -> bool:
    """True while the current invocation's handler re-walks its recorded journal."""
    scope = SCOPE.get()
    return scope is not None and not LIVE.get() and scope.replaying()
