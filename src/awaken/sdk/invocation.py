"""The context handed to handlers: every action becomes a journal step of the machine."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta
from random import Random
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from awaken.core.ids import new_awakeable_id, parse_awakeable_id
from awaken.core.journal import EntryKind, Outcome
from awaken.errors import BadRequest, TerminalError
from awaken.sdk.calls import CallActions
from awaken.sdk.context import (
    Request,
    RestateDurableFuture,
    RestateDurableSleepFuture,
    RunOptions,
    ScopedContext,
    WorkflowContext,
)
from awaken.sdk.futures import DurableFuture, ScopedContextImpl, SleepFuture
from awaken.sdk.guards import (
    JOURNAL_MISMATCH,
    NonDeterminismDetected,
    is_context_misuse,
    missing_attribute,
    replay_on_completion,
)
from awaken.sdk.scope import check_scope
from awaken.sdk.serde import DefaultSerde, Serde, json_schema_for, resolve_serde
from awaken.sdk.service import HandlerSpec
from awaken.sdk.signals import SignalOrdinals, await_signal, send_signal
from awaken.sdk.state import StateActions
from awaken.sdk.steps import ms, return_hint, run_step, step_policy

T = TypeVar("T")
log = logging.getLogger("awaken.sdk")


class InvocationContext(CallActions, StateActions, WorkflowContext):
    """One implementation for every context kind; the static types narrow what handlers see.

    Calls live in `CallActions`, state and promises in `StateActions`, the journal and the awaits
    in their base `JournalContext`; runs, sleeps, awakeables and signals are here."""

    if not TYPE_CHECKING:  # for mypy, a missing attribute stays a type error

        def __getattr__(self, name: str) -> Any:
            raise missing_attribute(name)

    # -- request, determinism helpers --------------------------------------------------------
    def request(self) -> Request:
        return Request(
            id=self.invocation_id,
            headers=dict(self._headers),
            attempt_headers=dict(self._headers),
            body=self._body,
            attempt_finished_event=self.finished,
            idempotency_key=self._idempotency_key,
        )

    def scope(self, scope: str) -> ScopedContext:
        try:
            check_scope(scope)
        except ValueError as exc:
            raise TerminalError(str(exc), 400) from None
        return ScopedContextImpl(self, scope)

    def random(self) -> Random:
        if self._random is None:
            seed = int.from_bytes(hashlib.sha256(self.invocation_id.encode()).digest()[:8], "big")
            self._random = Random(seed)
        return self._random

    def uuid(self) -> UUID:
        return UUID(int=self.random().getrandbits(128), version=4)

    def time(self) -> RestateDurableFuture[float]:
        now = self.driver.now_ms() / 1000

        async def timestamp() -> float:
            return now

        return self.run_typed("timestamp", timestamp)

    # -- steps -------------------------------------------------------------------------------
    def run(
        self,
        name: str,
        action: Callable[..., Any],
        serde: Serde[T] = DefaultSerde(),
        max_attempts: int | None = None,
        max_retry_duration: timedelta | None = None,
        type_hint: type[T] | None = None,
        args: tuple[Any, ...] | None = None,
    ) -> RestateDurableFuture[T]:
        options: RunOptions[T] = RunOptions(
            serde=serde, type_hint=type_hint, max_attempts=max_attempts, max_duration=max_retry_duration
        )
        return self.run_typed(name, action, options, *(args or ()))

    def run_typed(
        self,
        name: str,
        action: Callable[..., Any],
        options: RunOptions[T] = RunOptions(),
        /,
        *args: Any,
        **kwargs: Any,
    ) -> RestateDurableFuture[T]:
        serde: Serde[Any] = resolve_serde(options.serde, options.type_hint or return_hint(action))
        entry = self._step(EntryKind.RUN, name)
        if entry.outcome is None:
            body = run_step(
                self.machine,
                self.driver,
                entry.index,
                name,
                action,
                args,
                kwargs,
                serde,
                step_policy(options),
            )
            self.driver.spawn_step(entry.index, body)
        return DurableFuture(self, entry.index, serde.deserialize)

    def sleep(self, delta: timedelta, name: str | None = None) -> RestateDurableSleepFuture:
        data = None if self.machine.replaying else {"wake_at": self.driver.now_ms() + ms(delta)}
        entry = self._step(EntryKind.SLEEP, name or "", data=data)
        return SleepFuture(self, entry.index, lambda _: None)

    # -- awakeables --------------------------------------------------------------------------
    def awakeable(
        self,
        serde: Serde[T] = DefaultSerde(),
        type_hint: type[T] | None = None,
        timeout: timedelta | None = None,
    ) -> tuple[str, RestateDurableFuture[T]]:
        chosen = resolve_serde(serde, type_hint)
        data = None
        if not self.machine.replaying:
            data = {
                "id": new_awakeable_id(self.driver.random_bytes(28)),
                "deadline": self.driver.now_ms() + ms(timeout) if timeout is not None else None,
                "schema": json_schema_for(type_hint),
            }
        entry = self._step(EntryKind.AWAKEABLE, data=data)
        return entry.data["id"], DurableFuture(self, entry.index, chosen.deserialize)

    def _complete_awakeable(self, target: str, outcome: Outcome) -> None:
        try:
            canonical = parse_awakeable_id(target)
        except BadRequest as exc:
            raise TerminalError(str(exc), 400) from None
        entry = self._step(
            EntryKind.COMPLETE_AWAKEABLE,
            canonical,
            payload=outcome.value,
            data=(
                {"code": outcome.failure.code, "message": outcome.failure.message} if outcome.failure else {}
            ),
        )
        self._unsettled.append(entry.index)

    def resolve_awakeable(self, name: str, value: Any, serde: Serde[Any] = DefaultSerde()) -> None:
        self._complete_awakeable(name, Outcome(serde.serialize(value)))

    def reject_awakeable(self, name: str, failure_message: str, failure_code: int = 500) -> None:
        self._complete_awakeable(name, Outcome.fail(failure_code, failure_message))

    # -- named signals (sdk/signals.py) -----------------------------------------------------
    def signal(
        self, name: str, serde: Serde[T] = DefaultSerde(), type_hint: type[T] | None = None
    ) -> RestateDurableFuture[T]:
        if self._signal_ordinals is None:
            self._signal_ordinals = SignalOrdinals()
        return await_signal(self, self._signal_ordinals, name, resolve_serde(serde, type_hint).deserialize)

    def resolve_signal(
        self, invocation_id: str, name: str, value: Any, serde: Serde[Any] = DefaultSerde()
    ) -> None:
        send_signal(self, invocation_id, name, Outcome(serde.serialize(value)))

    def reject_signal(
        self, invocation_id: str, name: str, failure_message: str, failure_code: int = 500
    ) -> None:
        send_signal(self, invocation_id, name, Outcome.fail(failure_code, failure_message))


async def _run(spec: HandlerSpec, ctx: InvocationContext, body: bytes) -> Outcome:
    if spec.takes_input:
        try:
            arg = spec.decode_input(body)
        except Exception as exc:
            # restate-sdk's message and status: the invocation fails, the caller gets 500
            raise TerminalError(f"Unable to parse an input argument. {exc}") from exc
        result = await spec.fn(ctx, arg)
    else:
        result = await spec.fn(ctx)
    await ctx.settle()
    if replay_on_completion.get() and ctx.machine.length:
        from awaken.sdk.replay_check import divergence  # (it builds contexts: a cycle at import)

        diverged = await divergence(spec, ctx, body)
        if diverged is not None:
            raise NonDeterminismDetected(f"replaying the completed handler: {diverged}")
    return Outcome(spec.encode_output(result))


async def run_handler(spec: HandlerSpec, ctx: InvocationContext, body: bytes) -> Outcome:
    """Run a handler to its outcome. A TerminalError becomes a failed outcome, and so does a
    misuse of the context (an attribute it lacks, a method called with keywords it does not
    take: retrying cannot fix those); any other exception propagates (the attempt is retried);
    Suspended propagates."""
    try:
        if not spec.context_managers:  # (nearly every handler: no exit stack to pay for)
            return await _run(spec, ctx, body)
        async with contextlib.AsyncExitStack() as managers:
            for factory in spec.context_managers:
                await managers.enter_async_context(factory())
            return await _run(spec, ctx, body)
    except TerminalError as exc:
        return Outcome.fail(exc.status_code, exc.message)
    except NonDeterminismDetected as exc:
        log.error("invocation %s: %s", ctx.invocation_id, exc)
        return Outcome.fail(JOURNAL_MISMATCH, f"NonDeterminismError: {exc}")
    except (AttributeError, TypeError) as exc:
        if not is_context_misuse(exc):
            raise
        message = f"{type(exc).__name__}: {exc}"
        log.error("invocation %s (%s/%s) failed: %s", ctx.invocation_id, spec.service, spec.name, message)
        return Outcome.fail(500, message)
