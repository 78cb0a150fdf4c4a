"""One attempt of one invocation, run in this process: the AttemptDriver the SDK context uses.

The attempt replays the stored journal through the machine, runs the handler, writes journal
entries lazily (a write happens before a step starts, before the handler blocks, and at the
end), and parks the invocation (suspends) once it has waited `suspend_after` with nothing else
to do.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import time
import traceback
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from awaken.core.effects import StepEffects, completion, entry_effects
from awaken.core.journal import Entry, Outcome
from awaken.core.machine import InvocationMachine
from awaken.core.retry import transition_after_failure
from awaken.errors import Conflict, Fenced, NonDeterminismError, RetryableError, StorageError, Suspended
from awaken.observability import hooks
from awaken.sdk.invocation import InvocationContext, run_handler
from awaken.sdk.service import HandlerSpec
from awaken.storage.protocol import (
    Claim,
    Complete,
    NewInvocation,
    Progress,
    ProgressResult,
    Suspend,
    Transition,
)

if TYPE_CHECKING:
    from awaken.engine.engine import Engine

log = logging.getLogger("awaken.engine")


class Attempt:
    def __init__(self, engine: Engine, claim: Claim, spec: HandlerSpec) -> None:
        self.engine = engine
        self.record = claim.record
        self.spec = spec
        self.machine = InvocationMachine(claim.journal)
        self.epoch = claim.record.epoch
        self._state = dict(claim.state)
        self._lazy_state = claim.lazy_state
        self._captures: list[tuple[int, str]] = []  # (GET_STATE entry, state name) to copy at the next write
        self._written = len(claim.journal)  # entries below this index exist in the store
        self._waiters: list[tuple[frozenset[int], asyncio.Future[None]]] = []
        self._steps: dict[int, asyncio.Task[None]] = {}
        self._step_started: dict[int, float] = {}
        self._failure: BaseException | None = None
        self._suspend_timer: asyncio.TimerHandle | None = None
        self._suspended_on: set[int] = set()
        self._main: asyncio.Task[None] | None = None
        self._cancel_requested = claim.record.cancel_requested
        self.closing = False

    # -- AttemptDriver -----------------------------------------------------------------------
    def now_ms(self) -> int:
        return self.engine.now_ms()

    def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)

    async def flush(self) -> None:
        if not self.machine.dirty:
            return
        result = await self._commit(None)
        self._apply_entry_outcomes(result)

    async def wait_any(self, indices: Sequence[int]) -> None:
        if self._failure is not None:
            raise self._failure
        if self.machine.completed(indices):
            return
        if self.machine.dirty and not all(i in self._steps for i in indices):
            # About to wait for something from outside (an awakeable, a timer, a call): what
            # is journaled must be durable first. Waiting only on our own running steps needs
            # no write: their results are written with whatever comes next.
            await self.flush()
            if self.machine.completed(indices):
                return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (frozenset(indices), fut)
        self._waiters.append(waiter)
        self._arm_suspension()
        try:
            with hooks.waiting(self.machine, indices):
                await fut
        finally:
            self._waiters.remove(waiter)
            if not self._waiters:
                self._disarm_suspension()

    async def read_state(self, name: str) -> bytes | None:
        key = self.record.key
        if key is None:
            return None
        return await self.engine.store.get_state_value(self.record.service, key, name)

    async def read_entry(self, index: int) -> Outcome | None:
        return await self.engine.store.get_entry_outcome(self.record.id, index)

    def capture(self, index: int, name: str) -> None:
        self._captures.append((index, name))

    async def run_blocking(self, fn: Callable[[], Any]) -> Any:
        # in the step's context (its invocation's log fields and span), as asyncio.to_thread
        ctx = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self.engine.step_executor, ctx.run, fn)

    def spawn_step(self, index: int, body: Coroutine[Any, Any, None]) -> None:
        self._step_started[index] = time.perf_counter()
        task = hooks.start_step(self.machine, index, body)  # create_task, in the step's log/trace scope
        self._steps[index] = task
        self._disarm_suspension()
        task.add_done_callback(lambda _t: self._step_finished(index))

    def step_done(self, index: int) -> None:
        started = self._step_started.pop(index, None)
        if started is not None:
            self.engine.metrics.step(time.perf_counter() - started)
        self._wake(index)

    def take_cancel(self) -> bool:
        requested, self._cancel_requested = self._cancel_requested, False
        return requested

    def request_cancel(self) -> bool:
        """A cancellation of this invocation: the handler raises it at its next await (a waiting
        one wakes up for it). False if this attempt is ending (the next one gets it)."""
        if self.closing:
            return False
        self._cancel_requested = True
        for _, fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        return True

    def abort(self) -> None:
        """The invocation was killed: stop the handler and its steps, write nothing more."""
        if self.closing:
            return
        self.closing = True
        self._cancel_steps()
        if self._main is not None:
            self._main.cancel()

    def fail_attempt(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        for _, fut in self._waiters:
            if not fut.done():
                fut.set_exception(exc)
        main = self._main
        if main is not None and not self._waiters and asyncio.current_task() is not main:
            main.cancel()  # the handler is busy elsewhere: stop it at its next await

    # -- completions from outside ------------------------------------------------------------
    def deliver(self, index: int, outcome: Outcome) -> None:
        if self.closing:
            return
        if self.machine.complete(index, outcome, durable=True):
            self._wake(index)

    def _wake(self, index: int) -> None:
        for indices, fut in self._waiters:
            if index in indices and not fut.done():
                fut.set_result(None)

    def _step_finished(self, index: int) -> None:
        self._steps.pop(index, None)
        self._step_started.pop(index, None)
        self._arm_suspension()

    def _arm_suspension(self) -> None:
        if self._suspend_timer is not None or self._steps or not self._waiters or self.closing:
            return
        delay = self.engine.config.suspend_after
        if delay <= 0:
            self._suspend()
        else:
            self._suspend_timer = asyncio.get_running_loop().call_later(delay, self._suspend)

    def _disarm_suspension(self) -> None:
        if self._suspend_timer is not None:
            self._suspend_timer.cancel()
            self._suspend_timer = None

    def _suspend(self) -> None:
        self._suspend_timer = None
        if self._steps or not self._waiters:
            return
        self._suspended_on = {i for indices, _ in self._waiters for i in indices}
        for _, fut in self._waiters:
            if not fut.done():
                fut.set_exception(Suspended())

    # -- the attempt -------------------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        # create_task, in the invocation's log and trace scope
        self._main = hooks.start_attempt(self.record, self.machine, self._run_handler)
        return self._main

    async def _run_handler(self) -> None:
        record = self.record
        ctx = InvocationContext(
            spec=self.spec,
            driver=self,
            invocation_id=record.id,
            key=record.key,
            headers=record.headers,
            body=record.input,
            idempotency_key=record.idempotency_key,
            state=self._state,
            lazy_state=self._lazy_state,
        )
        transition: Transition
        try:
            outcome = await run_handler(self.spec, ctx, record.input)
            # A step that failed (or a replay that diverged) fails the attempt, even if the
            # handler caught the error and went on.
            failed = self._failure
            transition = self._complete(outcome) if failed is None else self._retry_transition(failed)
        except Suspended as exc:
            # Its traceback holds the handler's frames, which hold the futures that hold it:
            # a cycle that only the garbage collector would free. Drop it now.
            exc.__traceback__ = None
            transition = Suspend(sorted(self._suspended_on))
        except asyncio.CancelledError:
            if self._failure is None:  # the engine is stopping: leave the invocation to recovery
                self._cancel_steps()
                raise
            transition = self._retry_transition(self._failure)
        except Fenced as exc:
            # Another attempt owns the invocation now (taken over, paused, killed): stop here,
            # write nothing more, and do not try again.
            log.info("invocation %s: attempt at epoch %d stopped: %s", record.id, self.epoch, exc)
            self.engine.metrics.attempts_lost += 1
            self._stop(ctx)
            return
        except (StorageError, Conflict) as exc:
            # The store failed us: claim the invocation again once it works.
            log.warning("invocation %s: attempt abandoned: %s", record.id, exc)
            self._stop(ctx)
            self.engine.attempt_abandoned(record.id, exc)
            return
        except Exception as exc:
            transition = self._retry_transition(exc)
        hooks.attempt_ended(transition)
        self.closing = True
        self._cancel_steps()
        ctx.finished.set()
        try:
            result = await self._commit(transition)
        except Fenced as exc:
            log.info("invocation %s: attempt at epoch %d stopped: %s", record.id, self.epoch, exc)
            self.engine.metrics.attempts_lost += 1
            return
        except (StorageError, Conflict) as exc:
            log.warning("invocation %s: could not record the attempt's end: %s", record.id, exc)
            self.engine.attempt_abandoned(record.id, exc)
            return
        if result.resumed is not None:
            self.engine.start_attempt(result.resumed)

    def _stop(self, ctx: InvocationContext) -> None:
        self._cancel_steps()
        self.closing = True
        ctx.finished.set()

    def _cancel_steps(self) -> None:
        for task in list(self._steps.values()):
            task.cancel()
        self._steps.clear()
        self._disarm_suspension()

    def _complete(self, outcome: Outcome) -> Complete:
        return completion(self.machine.entries(), outcome)

    def _retry_transition(self, exc: BaseException) -> Transition:
        attempts = self.record.attempts + 1
        if isinstance(exc, NonDeterminismError):
            message = f"NonDeterminismError: {exc}"
        else:
            message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        policy = self.engine.retry_policy_for(self.spec)
        hooks.attempt_failed(self.record, attempts, message, exc)  # logs it, with its traceback
        retry_after = None
        if isinstance(exc, RetryableError) and exc.retry_after is not None:
            retry_after = int(exc.retry_after.total_seconds() * 1000)
        now = self.engine.now_ms()
        return transition_after_failure(policy, attempts, now, message, retry_after, self._complete)

    # -- writing -----------------------------------------------------------------------------
    async def _commit(self, transition: Transition) -> ProgressResult:
        entries = self.machine.take_dirty()
        captures, self._captures = self._captures, []
        try:
            progress = self._progress(entries, captures, transition)
            result = await self.engine.store.commit(progress)
        except BaseException:
            self.machine.restore_dirty(entries)
            self._captures[:0] = captures
            raise
        if entries:
            self._written = max(self._written, entries[-1].index + 1)
        self.engine.apply(result.effects)
        return result

    def _apply_entry_outcomes(self, result: ProgressResult) -> None:
        for index, outcome in result.entry_outcomes.items():
            if self.machine.complete(index, outcome, durable=True):
                self._wake(index)

    def _progress(
        self, entries: list[Entry], captures: list[tuple[int, str]], transition: Transition
    ) -> Progress:
        now = self.engine.now_ms()
        engine, caller = self.engine, self.record.id

        def child(entry: Entry) -> NewInvocation | None:
            return engine.child_invocation(caller, entry, now)

        effects = StepEffects()
        for missing in entry_effects(entries, self._written, effects, child):
            self.machine.complete(missing.index, missing.outcome or Outcome(), durable=True)
        # A journal that ends here is never replayed: its reads need no copies.
        if isinstance(transition, Complete):
            captures = []
        return Progress.of(self.record.id, self.epoch, now, entries, effects, transition, captures)
