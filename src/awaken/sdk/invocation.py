"""The context handed to handlers: every action becomes a journal step of the machine."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from random import Random
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from awaken.core.ids import (
    InvocationId,
    new_awakeable_id,
    new_invocation_id,
    parse_awakeable_id,
    workflow_invocation_id,
)
from awaken.core.journal import LARGE_VALUE, Entry, EntryKind, Outcome
from awaken.errors import BadRequest, NonDeterminismError, TerminalError
from awaken.observability import tracing
from awaken.sdk.context import (
    DurablePromise,
    Request,
    RestateDurableCallFuture,
    RestateDurableFuture,
    RestateDurableSleepFuture,
    RunOptions,
    ScopedContext,
    SendHandle,
    WorkflowContext,
)
from awaken.sdk.driver import AttemptDriver
from awaken.sdk.futures import (
    CallFuture,
    DurableFuture,
    DurablePromiseImpl,
    FinishedEvent,
    Ready,
    ScopedContextImpl,
    SendHandleImpl,
    SleepFuture,
    StateRead,
)
from awaken.sdk.guards import (
    JOURNAL_MISMATCH,
    NonDeterminismDetected,
    check_scoping,
    entry_name_data,
    is_context_misuse,
    missing_attribute,
    replay_on_completion,
    strict_determinism,
)
from awaken.sdk.scope import check_scope, scoped_idempotent_id
from awaken.sdk.serde import BytesSerde, DefaultSerde, Serde, json_schema_for, resolve_serde
from awaken.sdk.service import HandlerSpec, handler_spec_of
from awaken.sdk.signals import SignalOrdinals, await_signal, send_signal
from awaken.sdk.steps import ms, return_hint, run_step, step_policy

T = TypeVar("T")
log = logging.getLogger("awaken.sdk")


class InvocationContext(WorkflowContext):
    """One implementation for every context kind; the static types narrow what handlers see."""

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

    if not TYPE_CHECKING:  # for mypy, a missing attribute stays a type error

        def __getattr__(self, name: str) -> Any:
            raise missing_attribute(name)

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

    # -- calls -------------------------------------------------------------------------------
    def _target_id(
        self, service: str, handler: str, key: str | None, idem: str | None, wf: bool, scope: str | None
    ) -> str:
        if wf and key is not None:
            return workflow_invocation_id(service, key)
        if idem is not None:
            return scoped_idempotent_id(scope, service, key, handler, idem)
        return new_invocation_id(self.driver.now_ms(), self.driver.random_bytes(16))

    def _invoke(
        self,
        kind: EntryKind,
        service: str,
        handler: str,
        key: str | None,
        arg: bytes,
        idempotency_key: str | None,
        headers: dict[str, str] | None,
        delay: timedelta | None = None,
        workflow_main: bool = False,
        scope: str | None = None,
        limit_key: str | None = None,
    ) -> tuple[int, str]:
        data = None
        if not self.machine.replaying:
            check_scoping(service, key, scope, limit_key)
            data = {
                "service": service,
                "handler": handler,
                "key": key,
                "invocation_id": self._target_id(
                    service, handler, key, idempotency_key, workflow_main, scope
                ),
                "idempotency_key": idempotency_key,
                "headers": headers or {},
                "run_at": self.driver.now_ms() + ms(delay) if delay else None,
            }
            if scope is not None:
                data["scope"] = scope
                data["limit_key"] = limit_key
            data["headers"] = tracing.call_headers(kind.value, data)  # + traceparent
        entry = self._step(kind, f"{service}/{handler}", data=data, payload=arg)
        return entry.index, str(entry.data["invocation_id"])

    def _call(
        self,
        tpe: Any,
        key: str | None,
        arg: Any,
        idem: str | None,
        headers: dict[str, str] | None,
        scope: str | None = None,
        limit_key: str | None = None,
    ) -> CallFuture[Any]:
        spec = handler_spec_of(tpe)
        payload = spec.input_serde.serialize(arg)
        index, target = self._invoke(
            EntryKind.CALL,
            spec.service,
            spec.name,
            key,
            payload,
            idem,
            headers,
            workflow_main=spec.kind == "workflow",
            scope=scope,
            limit_key=limit_key,
        )
        return CallFuture(self, index, spec.output_serde.deserialize, target)

    def _send(
        self,
        tpe: Any,
        key: str | None,
        arg: Any,
        delay: timedelta | None,
        idem: str | None,
        headers: dict[str, str] | None,
        scope: str | None = None,
        limit_key: str | None = None,
    ) -> SendHandle:
        spec = handler_spec_of(tpe)
        payload = spec.input_serde.serialize(arg)
        _, target = self._invoke(
            EntryKind.SEND,
            spec.service,
            spec.name,
            key,
            payload,
            idem,
            headers,
            delay,
            workflow_main=spec.kind == "workflow",
            scope=scope,
            limit_key=limit_key,
        )
        return SendHandleImpl(self, target)

    def service_call(
        self, tpe: Any, arg: Any, idempotency_key: str | None = None, headers: dict[str, str] | None = None
    ) -> RestateDurableCallFuture[Any]:
        return self._call(tpe, None, arg, idempotency_key, headers)

    def service_send(
        self,
        tpe: Any,
        arg: Any,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SendHandle:
        return self._send(tpe, None, arg, send_delay, idempotency_key, headers)

    def object_call(
        self,
        tpe: Any,
        key: str,
        arg: Any,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateDurableCallFuture[Any]:
        return self._call(tpe, key, arg, idempotency_key, headers)

    def object_send(
        self,
        tpe: Any,
        key: str,
        arg: Any,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SendHandle:
        return self._send(tpe, key, arg, send_delay, idempotency_key, headers)

    def workflow_call(
        self,
        tpe: Any,
        key: str,
        arg: Any,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateDurableCallFuture[Any]:
        return self._call(tpe, key, arg, idempotency_key, headers)

    def workflow_send(
        self,
        tpe: Any,
        key: str,
        arg: Any,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SendHandle:
        return self._send(tpe, key, arg, send_delay, idempotency_key, headers)

    def generic_call(
        self,
        service: str,
        handler: str,
        arg: bytes,
        key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
        scope: str | None = None,
        limit_key: str | None = None,
    ) -> RestateDurableCallFuture[bytes]:
        index, target = self._invoke(
            EntryKind.CALL,
            service,
            handler,
            key,
            arg,
            idempotency_key,
            headers,
            scope=scope,
            limit_key=limit_key,
        )
        return CallFuture(self, index, BytesSerde().deserialize, target)

    def generic_send(
        self,
        service: str,
        handler: str,
        arg: bytes,
        key: str | None = None,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
        scope: str | None = None,
        limit_key: str | None = None,
    ) -> SendHandle:
        _, target = self._invoke(
            EntryKind.SEND,
            service,
            handler,
            key,
            arg,
            idempotency_key,
            headers,
            send_delay,
            scope=scope,
            limit_key=limit_key,
        )
        return SendHandleImpl(self, target)

    def cancel_invocation(self, invocation_id: str) -> None:
        """Cancel another invocation (as the admin API's cancel does); nothing happens if it is
        unknown or has completed."""
        try:
            target = str(InvocationId.parse(invocation_id))
        except BadRequest as exc:
            raise TerminalError(str(exc), 400) from None
        self._step(EntryKind.CANCEL, target)

    def attach_invocation(
        self, invocation_id: str, serde: Serde[T] = DefaultSerde(), type_hint: type[T] | None = None
    ) -> RestateDurableFuture[T]:
        """A future of another invocation's outcome (its result, or its TerminalError; 404 if
        there is no such invocation)."""
        try:
            target = str(InvocationId.parse(invocation_id))
        except BadRequest as exc:
            raise TerminalError(str(exc), 400) from None
        entry = self._step(EntryKind.ATTACH, target)
        return DurableFuture(self, entry.index, resolve_serde(serde, type_hint).deserialize)

    # -- state -------------------------------------------------------------------------------
    def key(self) -> str:
        if self._key is None:
            raise TerminalError("key() is only available in virtual objects and workflows", 500)
        return self._key

    def _require_keyed(self, write: bool) -> None:
        if self._key is None:
            raise TerminalError("state is only available in virtual objects and workflows", 500)
        if write and not self.spec.exclusive:
            raise TerminalError("shared handlers can only read state", 500)

    def get(
        self,
        name: str,
        serde: Serde[T] = DefaultSerde(),
        type_hint: type[T] | None = None,
        entry_name: str | None = None,
    ) -> Awaitable[T | None]:
        """The value of `name`, journaled here. A value larger than LARGE_VALUE is journaled as a
        reference (exclusive handlers hold the key, so the state they read is theirs) and, if it
        was not loaded with the attempt, read from the store when awaited."""
        self._require_keyed(write=False)
        decode = resolve_serde(serde, type_hint).deserialize
        if self.machine.replaying:
            entry = self._step(EntryKind.GET_STATE, name)
            if entry.data.get("ref"):
                self._ref_gets.setdefault(name, []).append(entry.index)
                return StateRead(self, entry.index, name, decode, self._state.get(name), True)
            if entry.outcome is None:  # a shared handler's read that never finished
                return StateRead(self, entry.index, name, decode, None, False)
            raw = entry.outcome.value
            return Ready(None if raw is None else decode(raw))
        known = name not in self._lazy
        raw = self._state.get(name) if known else None
        by_ref = self.spec.exclusive and not (known and (raw is None or len(raw) <= LARGE_VALUE))
        named = entry_name_data(entry_name)
        if by_ref:
            data = {"ref": True, **(named or {})}
            entry = self._step(EntryKind.GET_STATE, name, data=data, outcome=Outcome())
            self._ref_gets.setdefault(name, []).append(entry.index)
            return StateRead(self, entry.index, name, decode, raw, True)
        if not known:  # a shared handler: its reads are not its own, so they are recorded
            entry = self._step(EntryKind.GET_STATE, name, data=named)  # its outcome comes with the read
            return StateRead(self, entry.index, name, decode, None, False)
        self._step(EntryKind.GET_STATE, name, outcome=Outcome(raw), data=named)
        return Ready(None if raw is None else decode(raw))

    async def read_state(self, read: StateRead[Any]) -> bytes | None:
        """The value a GET_STATE entry read (see StateRead)."""
        name = read.name
        if read.writes_before == self._writes and name not in self._lazy:
            return self._state.get(name)
        if read.writes_before == self._writes:
            raw = await self.driver.read_state(name)
            self._lazy.discard(name)
            if raw is not None:
                self._state[name] = raw
            return raw
        # Overwritten since the read began: the old value is in the entry once written.
        await self.driver.flush()
        outcome = await self.driver.read_entry(read.index)
        return None if outcome is None else outcome.value

    def state_keys(self, entry_name: str | None = None) -> Awaitable[list[str]]:
        self._require_keyed(write=False)
        outcome = None
        if not self.machine.replaying:
            outcome = Outcome(json.dumps(sorted(self._state.keys() | self._lazy)).encode())
        entry = self._step(EntryKind.STATE_KEYS, outcome=outcome, data=entry_name_data(entry_name))
        assert entry.outcome is not None and entry.outcome.value is not None
        keys: list[str] = json.loads(entry.outcome.value)
        return Ready(keys)

    def _overwrite(self, name: str | None) -> None:
        """Before a state write: the reads journaled by reference keep what they read."""
        self._writes += 1
        if self.machine.replaying:
            return
        names = list(self._ref_gets) if name is None else [name]
        for n in names:
            for index in self._ref_gets.pop(n, ()):
                self.driver.capture(index, n)

    def set(
        self, name: str, value: T, serde: Serde[T] = DefaultSerde(), entry_name: str | None = None
    ) -> None:
        self._require_keyed(write=True)
        raw = resolve_serde(serde, type(value)).serialize(value)
        self._overwrite(name)
        self._step(EntryKind.SET_STATE, name, payload=raw, data=entry_name_data(entry_name))
        self._state[name] = raw
        self._lazy.discard(name)

    def clear(self, name: str, entry_name: str | None = None) -> None:
        self._require_keyed(write=True)
        self._overwrite(name)
        self._step(EntryKind.CLEAR_STATE, name, data=entry_name_data(entry_name))
        self._state.pop(name, None)
        self._lazy.discard(name)

    def clear_all(self, entry_name: str | None = None) -> None:
        self._require_keyed(write=True)
        self._overwrite(None)
        self._step(EntryKind.CLEAR_ALL_STATE, data=entry_name_data(entry_name))
        self._state.clear()
        self._lazy.clear()

    def promise(
        self, name: str, serde: Serde[T] = DefaultSerde(), type_hint: type[T] | None = None
    ) -> DurablePromise[T]:
        """The durable promise `name` of this workflow run (shared by all its handlers)."""
        if self.spec.service_kind != "workflow" or self._key is None:
            raise TerminalError("promises are only available in workflows", 500)
        return DurablePromiseImpl(self, name, resolve_serde(serde, type_hint))


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
