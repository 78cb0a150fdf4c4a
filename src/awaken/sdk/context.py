"""The handler-facing API: contexts and durable futures, with restate-sdk's names, parameters and
defaults (a test compares them with the pinned restate-sdk; the differences are listed there).

A shared context has no `set`/`clear`: calling them on one is a type error for mypy.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass
from datetime import timedelta
from random import Random
from typing import Any, Generic, ParamSpec, TypeVar
from uuid import UUID

from awaken.sdk.serde import DefaultSerde, Serde

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741
P = ParamSpec("P")

HandlerType = Callable[[Any, I], Awaitable[O]] | Callable[[Any], Awaitable[O]]
RunAction = Callable[..., Coroutine[Any, Any, T]] | Callable[..., T]


@dataclass
class RunOptions(Generic[T]):
    """Options of one `ctx.run_typed` step: its serde, and its own retry policy.

    With no retry field set, a failing step fails the attempt and the invocation's retry policy
    applies. With any set, the step retries in place (defaults: 50 ms, factor 2, at most 10 s
    apart) and, when `max_attempts` or `max_duration` is exhausted, completes with a
    TerminalError that the handler can catch.
    """

    serde: Serde[T] = DefaultSerde()  # noqa: RUF009 (stateless, shared on purpose)
    type_hint: type[T] | None = None
    max_attempts: int | None = None
    max_duration: timedelta | None = None
    initial_retry_interval: timedelta | None = None
    max_retry_interval: timedelta | None = None
    retry_interval_factor: float | None = None
    max_retry_duration: timedelta | None = None  # deprecated alias of max_duration


class RestateDurableFuture(Generic[T], Awaitable[T]):
    """A durable future: awaiting it returns the journaled result."""

    @abc.abstractmethod
    def __await__(self) -> Generator[Any, Any, T]: ...


class RestateDurableCallFuture(RestateDurableFuture[T]):
    @abc.abstractmethod
    async def invocation_id(self) -> str: ...

    @abc.abstractmethod
    async def cancel_invocation(self) -> None: ...


class RestateDurableSleepFuture(RestateDurableFuture[None]):
    pass


class SendHandle(abc.ABC):
    @abc.abstractmethod
    async def invocation_id(self) -> str: ...

    @abc.abstractmethod
    async def cancel_invocation(self) -> None: ...


class AttemptFinishedEvent(abc.ABC):
    @abc.abstractmethod
    def is_set(self) -> bool: ...

    @abc.abstractmethod
    async def wait(self) -> None: ...


@dataclass
class Request:
    """The invocation's request: id, headers, body."""

    id: str
    headers: dict[str, str]
    attempt_headers: dict[str, str]
    body: bytes
    attempt_finished_event: AttemptFinishedEvent
    scope: str | None = None
    limit_key: str | None = None
    idempotency_key: str | None = None


class ScopedContext(abc.ABC):
    """Calls and sends within one scope (returned by `ctx.scope(name)`); each method also takes a
    `limit_key`. A scope is part of the target's identity: the same idempotency key in two
    scopes names two invocations."""

    @abc.abstractmethod
    def service_call(
        self,
        tpe: HandlerType[I, O],
        arg: I,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateDurableCallFuture[O]: ...

    @abc.abstractmethod
    def service_send(
        self,
        tpe: HandlerType[I, O],
        arg: I,
        send_delay: timedelta | None = None,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SendHandle: ...

    @abc.abstractmethod
    def object_call(
        self,
        tpe: HandlerType[I, O],
        key: str,
        arg: I,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateDurableCallFuture[O]: ...

    @abc.abstractmethod
    def object_send(
        self,
        tpe: HandlerType[I, O],
        key: str,
        arg: I,
        send_delay: timedelta | None = None,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SendHandle: ...

    @abc.abstractmethod
    def workflow_call(
        self,
        tpe: HandlerType[I, O],
        key: str,
        arg: I,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateDurableCallFuture[O]: ...

    @abc.abstractmethod
    def workflow_send(
        self,
        tpe: HandlerType[I, O],
        key: str,
        arg: I,
        send_delay: timedelta | None = None,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SendHandle: ...


class Context(abc.ABC):
    """The context of every handler."""

    @abc.abstractmethod
    def request(self) -> Request: ...

    @abc.abstractmethod
    def scope(self, scope: str) -> ScopedContext:
        """Calls and sends made through the result carry `scope` (1 to 36 of `[a-zA-Z0-9_.-]`)."""

    @abc.abstractmethod
    def random(self) -> Random:
        """A random generator seeded by the invocation: the same on every replay."""

    @abc.abstractmethod
    def uuid(self) -> UUID: ...

    @abc.abstractmethod
    def time(self) -> RestateDurableFuture[float]:
        """`time.time()`, journaled."""

    @abc.abstractmethod
    def run(
        self,
        name: str,
        action: RunAction[T],
        serde: Serde[T] = DefaultSerde(),
        max_attempts: int | None = None,
        max_retry_duration: timedelta | None = None,
        type_hint: type[T] | None = None,
        args: tuple[Any, ...] | None = None,
    ) -> RestateDurableFuture[T]:
        """Deprecated form of run_typed."""

    @abc.abstractmethod
    def run_typed(
        self,
        name: str,
        action: Callable[P, Coroutine[Any, Any, T]] | Callable[P, T],
        options: RunOptions[T] = RunOptions(),
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> RestateDurableFuture[T]:
        """Run a side effect once and journal its result (at-least-once execution, exactly-once
        recording). A TerminalError raised inside is recorded and re-raised."""

    @abc.abstractmethod
    def sleep(self, delta: timedelta, name: str | None = None) -> RestateDurableSleepFuture: ...

    @abc.abstractmethod
    def service_call(
        self,
        tpe: HandlerType[I, O],
        arg: I,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateDurableCallFuture[O]: ...

    @abc.abstractmethod
    def service_send(
        self,
        tpe: HandlerType[I, O],
        arg: I,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SendHandle: ...

    @abc.abstractmethod
    def object_call(
        self,
        tpe: HandlerType[I, O],
        key: str,
        arg: I,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateDurableCallFuture[O]: ...

    @abc.abstractmethod
    def object_send(
        self,
        tpe: HandlerType[I, O],
        key: str,
        arg: I,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SendHandle: ...

    @abc.abstractmethod
    def workflow_call(
        self,
        tpe: HandlerType[I, O],
        key: str,
        arg: I,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateDurableCallFuture[O]: ...

    @abc.abstractmethod
    def workflow_send(
        self,
        tpe: HandlerType[I, O],
        key: str,
        arg: I,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SendHandle: ...

    @abc.abstractmethod
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
        """Call a handler by name with raw bytes. `scope` routes the call within a scope (see
        `scope()`); `limit_key` needs a scope."""

    @abc.abstractmethod
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
        """Send to a handler by name with raw bytes (see generic_call for `scope`)."""

    @abc.abstractmethod
    def awakeable(
        self,
        serde: Serde[T] = DefaultSerde(),
        type_hint: type[T] | None = None,
        timeout: timedelta | None = None,
    ) -> tuple[str, RestateDurableFuture[T]]:
        """Create an awakeable: an unforgeable id to hand out, and the future of its payload.

        `type_hint` validates the payload when it arrives (a bad one gets 400, nothing stored).
        `timeout` is a durable deadline: past it, awaiting raises TerminalError(408) and late
        completions get 410.
        """

    @abc.abstractmethod
    def resolve_awakeable(self, name: str, value: I, serde: Serde[I] = DefaultSerde()) -> None: ...

    @abc.abstractmethod
    def reject_awakeable(self, name: str, failure_message: str, failure_code: int = 500) -> None: ...

    @abc.abstractmethod
    def signal(
        self, name: str, serde: Serde[T] = DefaultSerde(), type_hint: type[T] | None = None
    ) -> RestateDurableFuture[T]:
        """The next signal `name` sent to this invocation: the k-th call for a name receives the
        k-th signal of that name (in order of arrival; one that arrived before the call is kept
        for it). A rejected signal raises TerminalError with its message and code."""

    @abc.abstractmethod
    def resolve_signal(
        self, invocation_id: str, name: str, value: I, serde: Serde[I] = DefaultSerde()
    ) -> None:
        """Send signal `name` with `value` to an invocation (journaled: sent once, whatever the
        retries). An invocation that does not exist or has completed drops it, silently."""

    @abc.abstractmethod
    def reject_signal(
        self, invocation_id: str, name: str, failure_message: str, failure_code: int = 500
    ) -> None:
        """Send signal `name` as a failure: the receiver's await raises
        TerminalError(failure_message, failure_code)."""

    @abc.abstractmethod
    def cancel_invocation(self, invocation_id: str) -> None: ...

    @abc.abstractmethod
    def attach_invocation(
        self, invocation_id: str, serde: Serde[T] = DefaultSerde(), type_hint: type[T] | None = None
    ) -> RestateDurableFuture[T]: ...


class _KeyedReads(abc.ABC):
    # `entry_name` names the journal entry for observability (shown in the admin API's journal)

    @abc.abstractmethod
    def get(
        self,
        name: str,
        serde: Serde[T] = DefaultSerde(),
        type_hint: type[T] | None = None,
        entry_name: str | None = None,
    ) -> Awaitable[T | None]: ...

    @abc.abstractmethod
    def state_keys(self, entry_name: str | None = None) -> Awaitable[list[str]]: ...


class KeyValueStore(_KeyedReads):
    """The state of a virtual object or workflow key."""

    @abc.abstractmethod
    def set(
        self, name: str, value: T, serde: Serde[T] = DefaultSerde(), entry_name: str | None = None
    ) -> None: ...

    @abc.abstractmethod
    def clear(self, name: str, entry_name: str | None = None) -> None: ...

    @abc.abstractmethod
    def clear_all(self, entry_name: str | None = None) -> None: ...


class ObjectSharedContext(Context, _KeyedReads):
    """Context of a shared virtual-object handler: reads state, never writes it."""

    @abc.abstractmethod
    def key(self) -> str: ...


class ObjectContext(Context, KeyValueStore):
    """Context of an exclusive virtual-object handler."""

    @abc.abstractmethod
    def key(self) -> str: ...


class DurablePromise(Generic[T]):
    """A workflow's durable promise, addressed by name."""

    def __init__(self, name: str, serde: Serde[T] = DefaultSerde()) -> None:
        self.name = name
        self.serde = serde

    @abc.abstractmethod
    def resolve(self, value: T) -> Awaitable[None]: ...

    @abc.abstractmethod
    def reject(self, message: str, code: int = 500) -> Awaitable[None]: ...

    @abc.abstractmethod
    def peek(self) -> Awaitable[T | None]: ...

    @abc.abstractmethod
    def value(self) -> RestateDurableFuture[T]: ...

    def __await__(self) -> Generator[Any, Any, T]:
        return self.value().__await__()


class WorkflowContext(ObjectContext):
    @abc.abstractmethod
    def promise(
        self, name: str, serde: Serde[T] = DefaultSerde(), type_hint: type[T] | None = None
    ) -> DurablePromise[T]: ...


class WorkflowSharedContext(ObjectSharedContext):
    @abc.abstractmethod
    def promise(
        self, name: str, serde: Serde[T] = DefaultSerde(), type_hint: type[T] | None = None
    ) -> DurablePromise[T]: ...


__all__ = [
    "AttemptFinishedEvent",
    "Context",
    "DurablePromise",
    "HandlerType",
    "KeyValueStore",
    "ObjectContext",
    "ObjectSharedContext",
    "Request",
    "RestateDurableCallFuture",
    "RestateDurableFuture",
    "RestateDurableSleepFuture",
    "RunAction",
    "RunOptions",
    "ScopedContext",
    "SendHandle",
    "WorkflowContext",
    "WorkflowSharedContext",
]
