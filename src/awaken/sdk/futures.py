"""Durable futures and handles returned by the context, the scoped context, and the
attempt-finished event."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from awaken.core.journal import EntryKind, Outcome
from awaken.sdk.context import (
    AttemptFinishedEvent,
    DurablePromise,
    RestateDurableCallFuture,
    RestateDurableFuture,
    RestateDurableSleepFuture,
    ScopedContext,
    SendHandle,
)
from awaken.sdk.guards import replay_on_completion

if TYPE_CHECKING:
    from awaken.sdk.calls import CallActions
    from awaken.sdk.journal_context import JournalContext
    from awaken.sdk.serde import Serde
    from awaken.sdk.state import StateActions

T = TypeVar("T")


class FinishedEvent(AttemptFinishedEvent):
    """Set when the attempt ends. The asyncio.Event is made only if someone waits on it."""

    __slots__ = ("_done", "_event")

    def __init__(self) -> None:
        self._done = False
        self._event: asyncio.Event | None = None

    def is_set(self) -> bool:
        return self._done

    async def wait(self) -> None:
        if self._done:
            return
        if self._event is None:
            self._event = asyncio.Event()
        await self._event.wait()

    def set(self) -> None:
        self._done = True
        if self._event is not None:
            self._event.set()


class DurableFuture(RestateDurableFuture[T]):
    """The future of one journal entry."""

    __slots__ = ("ctx", "decode", "index")

    def __init__(self, ctx: JournalContext, index: int, decode: Callable[[bytes], Any]) -> None:
        self.ctx = ctx
        self.index = index
        self.decode = decode

    def __await__(self) -> Generator[Any, Any, T]:
        return self.ctx._await(self).__await__()

    def is_completed(self) -> bool:
        return self.ctx.machine.outcome(self.index) is not None


class SleepFuture(DurableFuture[None], RestateDurableSleepFuture):
    pass


class CallFuture(DurableFuture[T], RestateDurableCallFuture[T]):
    ctx: CallActions  # made by the context's calls, which can also cancel what they called

    def __init__(
        self, ctx: CallActions, index: int, decode: Callable[[bytes], Any], invocation_id: str
    ) -> None:
        super().__init__(ctx, index, decode)
        self._invocation_id = invocation_id

    async def invocation_id(self) -> str:
        return self._invocation_id

    async def cancel_invocation(self) -> None:
        self.ctx.cancel_invocation(self._invocation_id)


class SendHandleImpl(SendHandle):
    def __init__(self, ctx: CallActions, invocation_id: str) -> None:
        self._ctx = ctx
        self._invocation_id = invocation_id

    async def invocation_id(self) -> str:
        return self._invocation_id

    async def cancel_invocation(self) -> None:
        self._ctx.cancel_invocation(self._invocation_id)


class Ready(Awaitable[T]):
    """An awaitable already holding its value (state reads are journaled at call time)."""

    __slots__ = ("_value",)

    def __init__(self, value: T) -> None:
        self._value = value

    def __await__(self) -> Generator[Any, Any, T]:
        return self._value
        yield  # pragma: no cover


class StateRead(Awaitable[T]):
    """A ctx.get whose value is read when awaited: one not loaded with the attempt (lazy), or
    one journaled as a reference. `known` is the value at the read, if the attempt had it."""

    __slots__ = ("by_ref", "ctx", "decode", "index", "known", "name", "writes_before")

    def __init__(
        self,
        ctx: StateActions,
        index: int,
        name: str,
        decode: Callable[[bytes], Any],
        known: bytes | None,
        by_ref: bool,
    ) -> None:
        self.ctx = ctx
        self.index = index
        self.name = name
        self.decode = decode
        self.known = known
        self.by_ref = by_ref
        self.writes_before = ctx._writes

    def __await__(self) -> Generator[Any, Any, T]:
        return self._value().__await__()

    async def _value(self) -> T:
        raw = self.known if self.known is not None else await self.ctx.read_state(self)
        if self.by_ref:
            if replay_on_completion.get():  # the harness's final replay needs what it read
                self.ctx.read_values[self.index] = raw
        else:  # a recorded read: its outcome is journaled now
            self.ctx.machine.complete(self.index, Outcome(raw), durable=False)
        value: T = None if raw is None else self.decode(raw)  # type: ignore[assignment]
        return value


class DurablePromiseImpl(DurablePromise[T]):
    """A workflow promise of the invocation's (workflow, key). Every call journals one entry:
    GET_PROMISE (value, await), PEEK_PROMISE, COMPLETE_PROMISE (resolve, reject); the store
    answers them when they are written."""

    def __init__(self, ctx: JournalContext, name: str, serde: Serde[T]) -> None:
        super().__init__(name, serde)
        self._ctx = ctx

    def value(self) -> RestateDurableFuture[T]:
        entry = self._ctx._step(EntryKind.GET_PROMISE, self.name)
        return DurableFuture(self._ctx, entry.index, self.serde.deserialize)

    def peek(self) -> Awaitable[T | None]:
        entry = self._ctx._step(EntryKind.PEEK_PROMISE, self.name)
        serde = self.serde
        return DurableFuture(self._ctx, entry.index, lambda raw: serde.deserialize(raw) if raw else None)

    def resolve(self, value: T) -> Awaitable[None]:
        raw = self.serde.serialize(value)
        entry = self._ctx._step(EntryKind.COMPLETE_PROMISE, self.name, payload=raw)
        return DurableFuture(self._ctx, entry.index, _nothing)

    def reject(self, message: str, code: int = 500) -> Awaitable[None]:
        data = {"code": code, "message": message}
        entry = self._ctx._step(EntryKind.COMPLETE_PROMISE, self.name, data=data)
        return DurableFuture(self._ctx, entry.index, _nothing)


def _nothing(raw: bytes) -> None:
    return None


class ScopedContextImpl(ScopedContext):
    """`ctx.scope(name)`: the context's calls and sends, carrying the scope."""

    def __init__(self, ctx: CallActions, scope: str) -> None:
        self._ctx = ctx
        self._scope = scope

    def service_call(
        self,
        tpe: Any,
        arg: Any,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateDurableCallFuture[Any]:
        return self._ctx._call(tpe, None, arg, idempotency_key, headers, self._scope, limit_key)

    def service_send(
        self,
        tpe: Any,
        arg: Any,
        send_delay: timedelta | None = None,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SendHandle:
        return self._ctx._send(tpe, None, arg, send_delay, idempotency_key, headers, self._scope, limit_key)

    def object_call(
        self,
        tpe: Any,
        key: str,
        arg: Any,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateDurableCallFuture[Any]:
        return self._ctx._call(tpe, key, arg, idempotency_key, headers, self._scope, limit_key)

    def object_send(
        self,
        tpe: Any,
        key: str,
        arg: Any,
        send_delay: timedelta | None = None,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SendHandle:
        return self._ctx._send(tpe, key, arg, send_delay, idempotency_key, headers, self._scope, limit_key)

    def workflow_call(
        self,
        tpe: Any,
        key: str,
        arg: Any,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateDurableCallFuture[Any]:
        return self._ctx._call(tpe, key, arg, idempotency_key, headers, self._scope, limit_key)

    def workflow_send(
        self,
        tpe: Any,
        key: str,
        arg: Any,
        send_delay: timedelta | None = None,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SendHandle:
        return self._ctx._send(tpe, key, arg, send_delay, idempotency_key, headers, self._scope, limit_key)
