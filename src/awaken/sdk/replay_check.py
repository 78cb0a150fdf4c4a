"""The determinism check of the always-replay test harness: a completed handler is run again
against its whole journal, with nothing executed for real (every step replays its recorded
outcome), and must take the same path: the same actions in the same order, all of them."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from awaken.core.journal import Entry, Outcome
from awaken.core.machine import InvocationMachine
from awaken.errors import NonDeterminismError
from awaken.sdk.guards import NonDeterminismDetected
from awaken.sdk.invocation import InvocationContext
from awaken.sdk.service import HandlerSpec


class _Diverged(Exception):
    pass


_UNREAD: Any = object()


class _ReplayDriver:
    """An AttemptDriver that only replays: the journal already holds every outcome."""

    def __init__(self, machine: InvocationMachine, now_ms: int) -> None:
        self.machine = machine
        self._now_ms = now_ms
        self.failure: BaseException | None = None

    def now_ms(self) -> int:
        return self._now_ms

    def random_bytes(self, n: int) -> bytes:
        return bytes(n)  # new ids only past the journal, where the replay has diverged already

    async def flush(self) -> None:
        return None

    async def wait_any(self, indices: Sequence[int]) -> None:
        raise _Diverged(
            f"the replay awaited journal entries {list(indices)}, which the run had not completed"
        )

    async def run_blocking(self, fn: Callable[[], Any]) -> Any:
        raise _Diverged("the replay ran a step that the run had recorded")

    def spawn_step(self, index: int, body: Coroutine[Any, Any, None]) -> None:
        body.close()  # a step still running when the handler ended: it is not run again

    def step_done(self, index: int) -> None:
        return None

    def take_cancel(self) -> bool:
        return False

    async def read_state(self, name: str) -> bytes | None:
        raise _Diverged(f"the replay read state {name!r} that the run had not read")

    async def read_entry(self, index: int) -> Outcome | None:
        return self.machine.outcome(index)

    def capture(self, index: int, name: str) -> None:
        return None  # nothing is written

    def fail_attempt(self, exc: BaseException) -> None:
        self.failure = exc


async def divergence(spec: HandlerSpec, ctx: InvocationContext, body: bytes) -> str | None:
    """Why replaying the completed handler took another path than its run; None if it did not."""
    # Reads journaled by reference replay here as what the run read (the store is not asked).
    journal = [
        Entry(
            e.index,
            e.kind,
            e.name,
            {k: v for k, v in e.data.items() if k != "ref"},
            e.payload,
            Outcome(value),
        )
        if (value := ctx.read_values.get(e.index, _UNREAD)) is not _UNREAD
        else e
        for e in ctx.machine.entries()
    ]
    machine = InvocationMachine(journal)
    driver = _ReplayDriver(machine, ctx.driver.now_ms())
    again = InvocationContext(
        spec=spec,
        driver=driver,
        invocation_id=ctx.invocation_id,
        key=ctx._key,
        headers=ctx._headers,
        body=body,
        idempotency_key=ctx._idempotency_key,
        state={},
    )
    try:
        if spec.takes_input:
            await spec.fn(again, spec.decode_input(body))
        else:
            await spec.fn(again)
        await again.settle()
    except (NonDeterminismDetected, NonDeterminismError, _Diverged) as exc:
        return str(exc)
    except Exception:
        # the handler failed where its run did not (a simulated crash, say): Restate would retry
        # such a replay, so it proves nothing about the path
        return None
    if driver.failure is not None:
        return str(driver.failure)
    nxt = machine.next_entry()
    if nxt is not None:
        return (
            f"the replay ended after {nxt.index} of the {len(journal)} journal entries the run "
            f"recorded; the next one is {nxt.kind.value}({nxt.name!r})"
        )
    return None
