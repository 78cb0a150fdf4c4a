"""Durable futures and handles returned by the context, and the attempt-finished event."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any, TypeVar

from awaken.sdk.context import (
    AttemptFinishedEvent,
    RestateDurableCallFuture,
    RestateDurableFuture,
    RestateDurableSleepFuture,
    SendHandle,
)

if TYPE_CHECKING:
    from awaken.sdk.invocation import InvocationContext

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

    def __init__(self, ctx: InvocationContext, index: int, decode: Callable[[bytes], Any]) -> None:
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
    def __init__(
        self, ctx: InvocationContext, index: int, decode: Callable[[bytes], Any], invocation_id: str
    ) -> None:
        super().__init__(ctx, index, decode)
        self._invocation_id = invocation_id

    async def invocation_id(self) -> str:
        return self._invocation_id

    async def cancel_invocation(self) -> None:
        self.ctx.cancel_invocation(self._invocation_id)


class SendHandleImpl(SendHandle):
    def __init__(self, ctx: InvocationContext, invocation_id: str) -> None:
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
