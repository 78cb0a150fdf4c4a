"""What a handler's context needs from whoever runs the attempt (the engine in-process, or a
request/response endpoint): durability, waiting, a clock and randomness."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

from awaken.core.journal import Outcome
from awaken.core.machine import InvocationMachine


class AttemptDriver(Protocol):
    machine: InvocationMachine

    def now_ms(self) -> int: ...

    def random_bytes(self, n: int) -> bytes: ...

    async def flush(self) -> None:
        """Make every dirty journal entry durable, with its side effects. Outcomes the store
        decides (completing another awakeable) are applied to the machine before returning."""

    async def wait_any(self, indices: Sequence[int]) -> None:
        """Return once one of these entries has an outcome in the machine. Raises Suspended
        when the invocation is parked instead; raises the attempt's failure if a step failed."""

    async def run_blocking(self, fn: Callable[[], Any]) -> Any:
        """Run a plain (non-async) step function off the event loop."""

    def spawn_step(self, index: int, body: Coroutine[Any, Any, None]) -> None:
        """Run a ctx.run body next to the handler; while it runs the invocation never suspends."""

    def step_done(self, index: int) -> None:
        """A step's outcome was put in the machine: wake whoever waits on it."""

    def take_cancel(self) -> bool:
        """Whether a cancellation was asked for this invocation and not raised yet (then it
        counts as raised). `wait_any` returns early when one arrives."""

    async def read_state(self, name: str) -> bytes | None:
        """A value of the invocation's state that the claim did not load (lazy)."""

    async def read_entry(self, index: int) -> Outcome | None:
        """The stored outcome of one of the invocation's journal entries."""

    def capture(self, index: int, name: str) -> None:
        """GET_STATE entry `index`, stored as a reference, is about to be overwritten by a state
        write of `name`: the write must copy the old value into it (unless the invocation
        completes in the same write: its journal is never replayed)."""

    def fail_attempt(self, exc: BaseException) -> None:
        """A step failed in a retryable way: end this attempt (the invocation retries)."""
