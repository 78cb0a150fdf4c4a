"""The base of the handler's context: what the invocation was started with, the step that
journals an action, and the awaits on journaled results (settling earlier awakeable completions,
cancellation at an await, the waits behind the combinators).

Its subclasses (`CallActions`, `StateActions`, and `InvocationContext` that joins them) journal
through `_step` and share the attributes set here; the futures hold a `JournalContext` to await.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from random import Random
from typing import TYPE_CHECKING, Any, TypeVar

from awaken.core.journal import Entry, EntryKind, Outcome
from awaken.errors import NonDeterminismError, TerminalError
from awaken.sdk.driver import AttemptDriver
from awaken.sdk.futures import FinishedEvent
from awaken.sdk.guards import NonDeterminismDetected, strict_determinism
from awaken.sdk.service import HandlerSpec
from awaken.sdk.signals import SignalOrdinals

if TYPE_CHECKING:
    from awaken.sdk.futures import DurableFuture

T = TypeVar("T")


class JournalContext:
    """The invocation, its attempt, and its journal: the part of the context every action uses."""

    def __init__(
        self,
        *,
        spec: HandlerSpec,
        driver: AttemptDriver,
        invocation_id: str,
        key: str | None,
        headers: dict[str, str],
        body: bytes,
        idempotency_key: str | None,
        state: dict[str, bytes],
        lazy_state: frozenset[str] = frozenset(),
    ) -> None:
        self.spec = spec
        self.driver = driver
        self.machine = driver.machine
        self.invocation_id = invocation_id
        self._key = key
        self._headers = headers
        self._body = body
        self._idempotency_key = idempotency_key
        self._state = state
        self._lazy = set(lazy_state)  # names whose (large) values were not loaded
        # GET_STATE entries stored as a reference to the state, by name: when this attempt
        # overwrites the name, the store copies the old value into them (replay reads it there).
        self._ref_gets: dict[str, list[int]] = {}
        self._writes = 0  # state writes so far (a lazy read started before one reads the past)
        self.read_values: dict[int, bytes | None] = {}  # what reads journaled by reference read
        self._random: Random | None = None
        self._unsettled: list[int] = []  # COMPLETE_AWAKEABLE entries whose result is unchecked
        self._signal_ordinals: SignalOrdinals | None = None  # made by the first ctx.signal
        self.finished = FinishedEvent()

    def _step(self, kind: EntryKind, name: str = "", **fields: Any) -> Entry:
        """Journal one action. A non-deterministic replay fails the attempt even if the handler
        catches the error."""
        try:
            return self.machine.step(kind, name, **fields)
        except NonDeterminismError as exc:
            if strict_determinism.get():
                raise NonDeterminismDetected(str(exc)) from None
            self.driver.fail_attempt(exc)
            raise

    # -- awaiting ----------------------------------------------------------------------------
    async def settle(self) -> None:
        """Raise the failure of an earlier resolve/reject_awakeable, at the first await after it
        (the same point on every replay)."""
        if not self._unsettled:
            return
        if any(self.machine.outcome(i) is None for i in self._unsettled):
            await self.driver.flush()
        pending, self._unsettled = self._unsettled, []
        for index in pending:
            outcome = self.machine.outcome(index)
            if outcome is not None and outcome.failure is not None:
                raise TerminalError(outcome.failure.message, outcome.failure.code)

    def _raise_if_cancelled(self, awaiting: list[int], waiting: bool = True) -> None:
        """Raise a cancellation of this invocation at an await that has to wait, once. Where it
        was raised the journal holds a CANCEL_SIGNAL entry naming the entries that await waited
        on, so a replay raises it at the same await (and not at an earlier one at the same
        journal position), whether or not they have completed since."""
        if self.machine.replaying:
            recorded = self.machine.next_entry()
            if recorded is None or recorded.kind is not EntryKind.CANCEL_SIGNAL:
                return
            if recorded.data.get("awaiting") != awaiting:
                return
        elif not waiting or not self.driver.take_cancel():
            return
        self._step(EntryKind.CANCEL_SIGNAL, data={"awaiting": awaiting})
        raise TerminalError("cancelled", 409)

    async def _await(self, fut: DurableFuture[T]) -> T:
        await self.settle()
        awaiting = [fut.index]
        self._raise_if_cancelled(awaiting, waiting=self.machine.outcome(fut.index) is None)
        while self.machine.outcome(fut.index) is None:
            await self.driver.wait_any((fut.index,))
            self._raise_if_cancelled(awaiting)
        outcome = self.machine.outcome(fut.index)
        assert outcome is not None
        if outcome.failure is not None:
            raise TerminalError(outcome.failure.message, outcome.failure.code)
        value: T = fut.decode(outcome.value or b"")
        return value

    async def wait_completed(self, futures: Sequence[DurableFuture[Any]]) -> list[int]:
        """Indices of the futures that are complete once at least one is; journaled, so that a
        replay sees the same set."""
        await self.settle()
        indices = [f.index for f in futures]
        self._raise_if_cancelled(indices, waiting=not self.machine.completed(indices))
        if self.machine.replaying:
            entry = self._step(EntryKind.WAIT)
            assert entry.outcome is not None and entry.outcome.value is not None
            done: list[int] = json.loads(entry.outcome.value)
            return done
        while not self.machine.completed(indices):
            await self.driver.wait_any(indices)
            self._raise_if_cancelled(indices)
        done = self.machine.completed(indices)
        self._step(EntryKind.WAIT, outcome=Outcome(json.dumps(done).encode()))
        return done

    async def wait_all(self, futures: Sequence[DurableFuture[Any]]) -> None:
        await self.settle()
        awaiting = [f.index for f in futures]
        pending = [f.index for f in futures if self.machine.outcome(f.index) is None]
        self._raise_if_cancelled(awaiting, waiting=bool(pending))
        while pending:
            await self.driver.wait_any(pending)
            self._raise_if_cancelled(awaiting)
            pending = [f.index for f in futures if self.machine.outcome(f.index) is None]
