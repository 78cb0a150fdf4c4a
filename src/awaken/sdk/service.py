"""Service, VirtualObject and Workflow: where handlers are declared, with restate-sdk's names,
parameters and defaults (a test compares them with the pinned restate-sdk).

Any type hint restate-sdk accepts is accepted here: hints choose serdes (see `awaken.sdk.serde`)
and JSON schemas, and are never a reason to refuse a handler.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, TypeVar

from awaken.core.retry import RetryPolicy
from awaken.sdk.serde import DefaultSerde, Serde, core_type, handler_serde, json_schema_for

ServiceKind = Literal["service", "object", "workflow"]
HandlerKind = Literal["exclusive", "shared", "workflow"]
HANDLER_ATTR = "__awaken_handler__"
T = TypeVar("T")


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


ContextManagers = list[Callable[[], AbstractAsyncContextManager[None]]]


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerDescriptor:
    """A handler as the engine, the ingress and the admin API know it, wherever it is served:
    its names and kind, content types and JSON schemas, and policies. A local service's handlers
    provide one (`HandlerSpec`, with the Python function), and so does each handler a registered
    deployment's manifest declares (with the schemas it declares)."""

    service: str
    name: str
    service_kind: ServiceKind
    kind: HandlerKind | None  # None for plain services
    takes_input: bool
    accept: str = "application/json"
    content_type: str = "application/json"
    retry_policy: InvocationRetryPolicy | None = None
    # the retention of the invocation's result (a workflow's: its workflow retention)
    idempotency_retention: timedelta | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None
    inactivity_timeout: timedelta | None = None
    abort_timeout: timedelta | None = None
    journal_retention: timedelta | None = None
    workflow_retention: timedelta | None = None
    ingress_private: bool = False
    enable_lazy_state: bool | None = None
    # A handler served elsewhere: the deployment that serves it, and the JSON schemas its
    # manifest declares.
    deployment_id: str | None = None
    declared_schemas: tuple[dict[str, Any] | None, dict[str, Any] | None] | None = None

    @property
    def remote(self) -> bool:
        return self.deployment_id is not None

    @property
    def keyed(self) -> bool:
        return self.service_kind != "service"

    @property
    def exclusive(self) -> bool:
        """Takes the key lock: exclusive object handlers and workflow main handlers."""
        return self.kind in ("exclusive", "workflow")

    @property
    def input_schema(self) -> dict[str, Any] | None:
        return None if self.declared_schemas is None else self.declared_schemas[0]

    @property
    def output_schema(self) -> dict[str, Any] | None:
        return None if self.declared_schemas is None else self.declared_schemas[1]


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerSpec(HandlerDescriptor):
    """A handler of this process: its descriptor, the Python function, and the serdes and JSON
    schemas its type hints choose."""

    fn: Callable[..., Any]
    input_type: Any
    output_type: Any
    input_serde: Serde[Any]
    output_serde: Serde[Any]
    context_managers: tuple[Callable[[], AbstractAsyncContextManager[None]], ...] = ()

    @property
    def input_schema(self) -> dict[str, Any] | None:
        return json_schema_for(self.input_type) if self.takes_input else None

    @property
    def output_schema(self) -> dict[str, Any] | None:
        return json_schema_for(self.output_type)

    def decode_input(self, body: bytes) -> Any:
        return self.input_serde.deserialize(body)

    def encode_output(self, value: Any) -> bytes:
        return self.output_serde.serialize(value)


@dataclass(frozen=True, slots=True)
class _HandlerOptions:
    """The decorator keywords of one handler, as restate-sdk names them."""

    name: str | None
    kind: HandlerKind | None
    accept: str
    content_type: str
    input_serde: Serde[Any]
    output_serde: Serde[Any]
    metadata: dict[str, str] | None = None
    inactivity_timeout: timedelta | None = None
    abort_timeout: timedelta | None = None
    journal_retention: timedelta | None = None
    idempotency_retention: timedelta | None = None
    workflow_retention: timedelta | None = None
    enable_lazy_state: bool | None = None
    state_preload: bool | list[str] | None = None
    ingress_private: bool | None = None
    invocation_retry_policy: InvocationRetryPolicy | None = None
    invocation_context_managers: ContextManagers | None = None


def _check_state_preload(state_preload: bool | list[str] | None, enable_lazy_state: bool | None) -> None:
    if state_preload is not None and enable_lazy_state is not None:
        raise ValueError(
            "set either 'state_preload' or the deprecated 'enable_lazy_state', not both (use 'state_preload')"
        )


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """The handler's resolved annotations; an annotation that cannot be resolved counts as none
    (restate-sdk would fail at import there; a hint only picks a serde here)."""
    try:
        return typing.get_type_hints(fn)
    except Exception:
        return {}


def _make_spec(
    fn: Callable[..., Any], defn: _Definition, service_kind: ServiceKind, opts: _HandlerOptions
) -> HandlerSpec:
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"handler {fn.__qualname__} must be an async function")
    params = list(inspect.signature(fn).parameters.values())
    if len(params) not in (1, 2):
        raise TypeError(f"handler {fn.__qualname__} must take (ctx) or (ctx, arg)")
    _check_state_preload(opts.state_preload, opts.enable_lazy_state)
    hints = _hints(fn)
    input_type = core_type(hints.get(params[1].name)) if len(params) == 2 else None
    output_type = core_type(hints.get("return"))
    if output_type is type(None):
        output_type = None
    lazy = opts.enable_lazy_state
    if opts.state_preload is not None:
        lazy = opts.state_preload is not True
    managers = (defn.context_managers or []) + (opts.invocation_context_managers or [])
    retention = opts.workflow_retention if opts.kind == "workflow" else opts.idempotency_retention
    return HandlerSpec(
        service=defn.name,
        name=opts.name or fn.__name__,
        service_kind=service_kind,
        kind=opts.kind,
        fn=fn,
        takes_input=len(params) == 2,
        input_type=input_type,
        output_type=output_type,
        input_serde=handler_serde(opts.input_serde, input_type),
        output_serde=handler_serde(opts.output_serde, output_type),
        accept=opts.accept,
        content_type=opts.content_type,
        retry_policy=opts.invocation_retry_policy or defn.invocation_retry_policy,
        idempotency_retention=retention or defn.idempotency_retention,
        description=inspect.getdoc(fn),
        metadata=opts.metadata,
        inactivity_timeout=opts.inactivity_timeout,
        abort_timeout=opts.abort_timeout,
        journal_retention=opts.journal_retention,
        workflow_retention=opts.workflow_retention,
        ingress_private=bool(defn.ingress_private if opts.ingress_private is None else opts.ingress_private),
        enable_lazy_state=lazy,
        context_managers=tuple(managers),
    )


@dataclass
class ServiceDefinition:
    name: str
    description: str | None = None
    metadata: dict[str, str] | None = None
    inactivity_timeout: timedelta | None = None
    abort_timeout: timedelta | None = None
    journal_retention: timedelta | None = None
    idempotency_retention: timedelta | None = None
    ingress_private: bool | None = None
    invocation_retry_policy: InvocationRetryPolicy | None = None
    context_managers: ContextManagers | None = None
    enable_lazy_state: bool | None = None
    handlers: dict[str, HandlerDescriptor] = field(default_factory=dict)


_Definition = ServiceDefinition


class _ServiceBase:
    service_kind: ServiceKind = "service"
    _def: _Definition
    deployment_id: str | None = None  # None: served by this process

    def _init(self, defn: _Definition) -> None:
        if not defn.name or "/" in defn.name:
            raise ValueError(f"invalid service name {defn.name!r}")
        self._def = defn

    @property
    def name(self) -> str:
        return self._def.name

    @property
    def handlers(self) -> dict[str, HandlerDescriptor]:
        return self._def.handlers

    @property
    def definition(self) -> _Definition:
        """The service-level settings (description, retention, retry policy...)."""
        return self._def

    @property
    def inactivity_timeout(self) -> timedelta | None:
        return self._def.inactivity_timeout

    def _register(self, opts: _HandlerOptions) -> Callable[[T], T]:
        def wrapper(fn: Any) -> Any:
            spec = _make_spec(fn, self._def, self.service_kind, opts)
            if spec.name in self._def.handlers:
                raise ValueError(f"handler {self.name}/{spec.name} is declared twice")
            self._def.handlers[spec.name] = spec
            setattr(fn, HANDLER_ATTR, spec)
            return fn

        return typing.cast(Callable[[T], T], wrapper)


class Service(_ServiceBase):
    """A set of stateless durable handlers."""

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
        invocation_context_managers: ContextManagers | None = None,
    ) -> None:
        self._init(
            _Definition(
                name,
                description,
                metadata,
                inactivity_timeout,
                abort_timeout,
                journal_retention,
                idempotency_retention,
                ingress_private,
                invocation_retry_policy,
                invocation_context_managers,
            )
        )

    def handler(
        self,
        name: str | None = None,
        accept: str = "application/json",
        content_type: str = "application/json",
        input_serde: Serde[Any] = DefaultSerde(),
        output_serde: Serde[Any] = DefaultSerde(),
        metadata: dict[str, str] | None = None,
        inactivity_timeout: timedelta | None = None,
        abort_timeout: timedelta | None = None,
        journal_retention: timedelta | None = None,
        idempotency_retention: timedelta | None = None,
        ingress_private: bool | None = None,
        invocation_retry_policy: InvocationRetryPolicy | None = None,
        invocation_context_managers: ContextManagers | None = None,
    ) -> Callable[[T], T]:
        """Declare a handler: `async def h(ctx: Context[, arg: T]) -> R`."""
        return self._register(
            _HandlerOptions(
                name,
                None,
                accept,
                content_type,
                input_serde,
                output_serde,
                metadata=metadata,
                inactivity_timeout=inactivity_timeout,
                abort_timeout=abort_timeout,
                journal_retention=journal_retention,
                idempotency_retention=idempotency_retention,
                ingress_private=ingress_private,
                invocation_retry_policy=invocation_retry_policy,
                invocation_context_managers=invocation_context_managers,
            )
        )


class _KeyedService(_ServiceBase):
    def __init__(
        self,
        name: str,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        inactivity_timeout: timedelta | None = None,
        abort_timeout: timedelta | None = None,
        journal_retention: timedelta | None = None,
        idempotency_retention: timedelta | None = None,
        enable_lazy_state: bool | None = None,
        state_preload: bool | list[str] | None = None,
        ingress_private: bool | None = None,
        invocation_retry_policy: InvocationRetryPolicy | None = None,
        invocation_context_managers: ContextManagers | None = None,
    ) -> None:
        _check_state_preload(state_preload, enable_lazy_state)
        lazy = enable_lazy_state if state_preload is None else state_preload is not True
        self._init(
            _Definition(
                name,
                description,
                metadata,
                inactivity_timeout,
                abort_timeout,
                journal_retention,
                idempotency_retention,
                ingress_private,
                invocation_retry_policy,
                invocation_context_managers,
                lazy,
            )
        )


class VirtualObject(_KeyedService):
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
        metadata: dict[str, str] | None = None,
        inactivity_timeout: timedelta | None = None,
        abort_timeout: timedelta | None = None,
        journal_retention: timedelta | None = None,
        idempotency_retention: timedelta | None = None,
        enable_lazy_state: bool | None = None,
        state_preload: bool | list[str] | None = None,
        ingress_private: bool | None = None,
        invocation_retry_policy: InvocationRetryPolicy | None = None,
        invocation_context_managers: ContextManagers | None = None,
    ) -> Callable[[T], T]:
        """Declare a handler; `kind="shared"` handlers run concurrently and only read state."""
        return self._register(
            _HandlerOptions(
                name,
                kind or "exclusive",
                accept,
                content_type,
                input_serde,
                output_serde,
                metadata=metadata,
                inactivity_timeout=inactivity_timeout,
                abort_timeout=abort_timeout,
                journal_retention=journal_retention,
                idempotency_retention=idempotency_retention,
                enable_lazy_state=enable_lazy_state,
                state_preload=state_preload,
                ingress_private=ingress_private,
                invocation_retry_policy=invocation_retry_policy,
                invocation_context_managers=invocation_context_managers,
            )
        )


class Workflow(_KeyedService):
    """A keyed service whose main handler runs once per key."""

    service_kind: ServiceKind = "workflow"

    def main(
        self,
        name: str | None = None,
        accept: str = "application/json",
        content_type: str = "application/json",
        input_serde: Serde[Any] = DefaultSerde(),
        output_serde: Serde[Any] = DefaultSerde(),
        metadata: dict[str, str] | None = None,
        inactivity_timeout: timedelta | None = None,
        abort_timeout: timedelta | None = None,
        journal_retention: timedelta | None = None,
        workflow_retention: timedelta | None = None,
        enable_lazy_state: bool | None = None,
        state_preload: bool | list[str] | None = None,
        ingress_private: bool | None = None,
        invocation_retry_policy: InvocationRetryPolicy | None = None,
        invocation_context_managers: ContextManagers | None = None,
    ) -> Callable[[T], T]:
        """Declare the workflow's main handler (runs exactly once per workflow key)."""
        return self._register(
            _HandlerOptions(
                name,
                "workflow",
                accept,
                content_type,
                input_serde,
                output_serde,
                metadata=metadata,
                inactivity_timeout=inactivity_timeout,
                abort_timeout=abort_timeout,
                journal_retention=journal_retention,
                workflow_retention=workflow_retention,
                enable_lazy_state=enable_lazy_state,
                state_preload=state_preload,
                ingress_private=ingress_private,
                invocation_retry_policy=invocation_retry_policy,
                invocation_context_managers=invocation_context_managers,
            )
        )

    def handler(
        self,
        name: str | None = None,
        accept: str = "application/json",
        content_type: str = "application/json",
        input_serde: Serde[Any] = DefaultSerde(),
        output_serde: Serde[Any] = DefaultSerde(),
        metadata: dict[str, str] | None = None,
        inactivity_timeout: timedelta | None = None,
        abort_timeout: timedelta | None = None,
        journal_retention: timedelta | None = None,
        idempotency_retention: timedelta | None = None,
        enable_lazy_state: bool | None = None,
        state_preload: bool | list[str] | None = None,
        ingress_private: bool | None = None,
        invocation_retry_policy: InvocationRetryPolicy | None = None,
        invocation_context_managers: ContextManagers | None = None,
        *,
        kind: Literal["exclusive", "shared"] | None = "shared",
    ) -> Callable[[T], T]:
        """Declare a workflow handler (shared; `kind="exclusive"` is awaken's addition)."""
        return self._register(
            _HandlerOptions(
                name,
                kind or "shared",
                accept,
                content_type,
                input_serde,
                output_serde,
                metadata=metadata,
                inactivity_timeout=inactivity_timeout,
                abort_timeout=abort_timeout,
                journal_retention=journal_retention,
                idempotency_retention=idempotency_retention,
                enable_lazy_state=enable_lazy_state,
                state_preload=state_preload,
                ingress_private=ingress_private,
                invocation_retry_policy=invocation_retry_policy,
                invocation_context_managers=invocation_context_managers,
            )
        )


class RemoteService(_ServiceBase):
    """A service whose handlers are served elsewhere (a registered deployment), as its manifest
    describes them: what the ingress, the admin API and the engine need, with no Python code."""

    def __init__(self, definition: ServiceDefinition, kind: ServiceKind, deployment_id: str) -> None:
        self._init(definition)
        self.service_kind = kind
        self.deployment_id = deployment_id


AnyService = Service | VirtualObject | Workflow | RemoteService


def handler_spec_of(fn: Any) -> HandlerSpec:
    spec = getattr(fn, HANDLER_ATTR, None)
    if not isinstance(spec, HandlerSpec):
        raise TypeError(f"{fn!r} is not a handler declared with @service.handler()")
    return spec
