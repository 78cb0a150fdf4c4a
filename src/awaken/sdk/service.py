"""Service, VirtualObject and Workflow: where handlers are declared (restate-sdk's names)."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from awaken.core.retry import RetryPolicy
from awaken.sdk.serde import DefaultSerde, Serde, check_type, json_schema_for, resolve_serde

ServiceKind = Literal["service", "object", "workflow"]
HandlerKind = Literal["exclusive", "shared", "workflow"]
HANDLER_ATTR = "__awaken_handler__"


@dataclass
class InvocationRetryPolicy:
    """Retry policy of a service or handler (restate-sdk's name and fields)."""

    initial_interval: timedelta | None = None
    exponentiation_factor: float | None = None
    max_interval: timedelta | None = None
    max_attempts: int | None = None
    on_max_attempts: Literal["pause", "kill"] | None = None

    def to_policy(self, base: RetryPolicy) -> RetryPolicy:
        def ms(value: timedelta | None, default: int) -> int:
            return default if value is None else int(value.total_seconds() * 1000)

        return RetryPolicy(
            initial_interval_ms=ms(self.initial_interval, base.initial_interval_ms),
            factor=self.exponentiation_factor or base.factor,
            max_interval_ms=ms(self.max_interval, base.max_interval_ms),
            max_attempts=self.max_attempts if self.max_attempts is not None else base.max_attempts,
            on_max_attempts=self.on_max_attempts or base.on_max_attempts,
        )


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """Everything the engine needs to know about one handler."""

    service: str
    name: str
    service_kind: ServiceKind
    kind: HandlerKind | None  # None for plain services
    fn: Callable[..., Any]
    takes_input: bool
    input_type: Any
    output_type: Any
    input_serde: Serde[Any]
    output_serde: Serde[Any]
    accept: str = "application/json"
    content_type: str = "application/json"
    retry_policy: InvocationRetryPolicy | None = None
    idempotency_retention: timedelta | None = None

    @property
    def keyed(self) -> bool:
        return self.service_kind != "service"

    @property
    def exclusive(self) -> bool:
        """Takes the key lock: exclusive object handlers and workflow main handlers."""
        return self.kind in ("exclusive", "workflow")

    @property
    def input_schema(self) -> dict[str, Any] | None:
        return json_schema_for(self.input_type) if self.takes_input else None

    def decode_input(self, body: bytes) -> Any:
        return self.input_serde.deserialize(body)

    def encode_output(self, value: Any) -> bytes:
        return self.output_serde.serialize(value)


def _make_spec(
    fn: Callable[..., Any],
    *,
    service: str,
    service_kind: ServiceKind,
    kind: HandlerKind | None,
    name: str | None,
    accept: str,
    content_type: str,
    input_serde: Serde[Any],
    output_serde: Serde[Any],
    retry_policy: InvocationRetryPolicy | None,
    idempotency_retention: timedelta | None,
) -> HandlerSpec:
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"handler {fn.__qualname__} must be an async function")
    params = list(inspect.signature(fn).parameters.values())
    if len(params) not in (1, 2):
        raise TypeError(f"handler {fn.__qualname__} must take (ctx) or (ctx, arg)")
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = {}
    input_type = hints.get(params[1].name) if len(params) == 2 else None
    output_type = hints.get("return")
    if output_type is type(None):
        output_type = None
    for what, hint in (("input", input_type), ("output", output_type)):
        try:
            check_type(hint)
        except TypeError as exc:
            raise TypeError(f"handler {fn.__qualname__}: unsupported {what} type: {exc}") from exc
    return HandlerSpec(
        service=service,
        name=name or fn.__name__,
        service_kind=service_kind,
        kind=kind,
        fn=fn,
        takes_input=len(params) == 2,
        input_type=input_type,
        output_type=output_type,
        input_serde=resolve_serde(input_serde, input_type),
        output_serde=resolve_serde(output_serde, output_type),
        accept=accept,
        content_type=content_type,
        retry_policy=retry_policy,
        idempotency_retention=idempotency_retention,
    )


@dataclass
class _Definition:
    name: str
    description: str | None = None
    metadata: dict[str, str] | None = None
    inactivity_timeout: timedelta | None = None
    abort_timeout: timedelta | None = None
    journal_retention: timedelta | None = None
    idempotency_retention: timedelta | None = None
    ingress_private: bool | None = None
    invocation_retry_policy: InvocationRetryPolicy | None = None
    handlers: dict[str, HandlerSpec] = field(default_factory=dict)


class _ServiceBase:
    service_kind: ServiceKind = "service"

    def __init__(
        self,
        name: str,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        inactivity_timeout: timedelta | None = None,
        abort_timeout: timedelta | None = None,
        journal_retention: timedelta | None = None,
        idempotency_retention: timedelta | None = None,
        ingress_private: bool | None = None,
        invocation_retry_policy: InvocationRetryPolicy | None = None,
        **_ignored: Any,
    ) -> None:
        if not name or "/" in name:
            raise ValueError(f"invalid service name {name!r}")
        self._def = _Definition(
            name,
            description,
            metadata,
            inactivity_timeout,
            abort_timeout,
            journal_retention,
            idempotency_retention,
            ingress_private,
            invocation_retry_policy,
        )

    @property
    def name(self) -> str:
        return self._def.name

    @property
    def handlers(self) -> dict[str, HandlerSpec]:
        return self._def.handlers

    @property
    def inactivity_timeout(self) -> timedelta | None:
        return self._def.inactivity_timeout

    def _register(
        self,
        kind: HandlerKind | None,
        name: str | None,
        accept: str,
        content_type: str,
        input_serde: Serde[Any],
        output_serde: Serde[Any],
        invocation_retry_policy: InvocationRetryPolicy | None,
        idempotency_retention: timedelta | None,
    ) -> Callable[[Any], Any]:
        def wrapper(fn: Any) -> Any:
            spec = _make_spec(
                fn,
                service=self.name,
                service_kind=self.service_kind,
                kind=kind,
                name=name,
                accept=accept,
                content_type=content_type,
                input_serde=input_serde,
                output_serde=output_serde,
                retry_policy=invocation_retry_policy or self._def.invocation_retry_policy,
                idempotency_retention=idempotency_retention or self._def.idempotency_retention,
            )
            if spec.name in self._def.handlers:
                raise ValueError(f"handler {self.name}/{spec.name} is declared twice")
            self._def.handlers[spec.name] = spec
            setattr(fn, HANDLER_ATTR, spec)
            return fn

        return wrapper


class Service(_ServiceBase):
    """A set of stateless durable handlers."""

    service_kind: ServiceKind = "service"

    def handler(
        self,
        name: str | None = None,
        accept: str = "application/json",
        content_type: str = "application/json",
        input_serde: Serde[Any] = DefaultSerde(),
        output_serde: Serde[Any] = DefaultSerde(),
        invocation_retry_policy: InvocationRetryPolicy | None = None,
        idempotency_retention: timedelta | None = None,
        **_ignored: Any,
    ) -> Callable[[Any], Any]:
        """Declare a handler: `async def h(ctx: Context[, arg: T]) -> R`."""
        return self._register(
            None,
            name,
            accept,
            content_type,
            input_serde,
            output_serde,
            invocation_retry_policy,
            idempotency_retention,
        )


class VirtualObject(_ServiceBase):
    """Keyed handlers with state; exclusive handlers run one at a time per key."""

    service_kind: ServiceKind = "object"

    def handler(
        self,
        name: str | None = None,
        kind: Literal["exclusive", "shared"] | None = "exclusive",
        accept: str = "application/json",
        content_type: str = "application/json",
        input_serde: Serde[Any] = DefaultSerde(),
        output_serde: Serde[Any] = DefaultSerde(),
        invocation_retry_policy: InvocationRetryPolicy | None = None,
        idempotency_retention: timedelta | None = None,
        **_ignored: Any,
    ) -> Callable[[Any], Any]:
        """Declare a handler; `kind="shared"` handlers run concurrently and only read state."""
        return self._register(
            kind or "exclusive",
            name,
            accept,
            content_type,
            input_serde,
            output_serde,
            invocation_retry_policy,
            idempotency_retention,
        )


class Workflow(_ServiceBase):
    """A keyed service whose main handler runs once per key."""

    service_kind: ServiceKind = "workflow"

    def main(
        self,
        name: str | None = None,
        accept: str = "application/json",
        content_type: str = "application/json",
        input_serde: Serde[Any] = DefaultSerde(),
        output_serde: Serde[Any] = DefaultSerde(),
        invocation_retry_policy: InvocationRetryPolicy | None = None,
        **_ignored: Any,
    ) -> Callable[[Any], Any]:
        """Declare the workflow's main handler (runs exactly once per workflow key)."""
        return self._register(
            "workflow",
            name,
            accept,
            content_type,
            input_serde,
            output_serde,
            invocation_retry_policy,
            None,
        )

    def handler(
        self,
        name: str | None = None,
        kind: Literal["exclusive", "shared"] | None = "shared",
        accept: str = "application/json",
        content_type: str = "application/json",
        input_serde: Serde[Any] = DefaultSerde(),
        output_serde: Serde[Any] = DefaultSerde(),
        invocation_retry_policy: InvocationRetryPolicy | None = None,
        **_ignored: Any,
    ) -> Callable[[Any], Any]:
        """Declare a workflow handler (shared by default)."""
        return self._register(
            kind or "shared",
            name,
            accept,
            content_type,
            input_serde,
            output_serde,
            invocation_retry_policy,
            None,
        )


AnyService = Service | VirtualObject | Workflow


def handler_spec_of(fn: Any) -> HandlerSpec:
    spec = getattr(fn, HANDLER_ATTR, None)
    if not isinstance(spec, HandlerSpec):
        raise TypeError(f"{fn!r} is not a handler declared with @service.handler()")
    return spec
