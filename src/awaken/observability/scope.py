"""Which invocation the running code belongs to, and whether its handler is replaying.

An attempt sets the scope once, at the top of its task; the tasks it starts (ctx.run steps)
and the threads its blocking steps run in inherit it through `contextvars`. Log filters and
trace spans read it; nothing in here touches the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, replace


def _never() -> bool:
    return False


@dataclass(frozen=True, slots=True)
class InvocationScope:
    invocation_id: str
    service: str
    handler: str
    key: str | None
    # Asked when a line is logged, not when the scope is set: the handler moves from replay to
    # new work while the scope stays the same.
    replaying: Callable[[], bool] = _never

    @property
    def target(self) -> str:
        return "/".join(p for p in (self.service, self.key, self.handler) if p is not None)

    def live(self) -> InvocationScope:
        """The same invocation, for code that runs for real whatever the handler replays (a
        ctx.run function only runs when its result is not recorded)."""
        return replace(self, replaying=_never)


_SCOPE: ContextVar[InvocationScope | None] = ContextVar("awaken_invocation", default=None)


def current_scope() -> InvocationScope | None:
    return _SCOPE.get()


def enter_scope(scope: InvocationScope | None) -> None:
    """Set the scope of the current task (and of what it starts from now on)."""
    _SCOPE.set(scope)


def is_replaying() -> bool:
    """True while the current invocation's handler re-walks its recorded journal."""
    scope = _SCOPE.get()
    return scope is not None and scope.replaying()
