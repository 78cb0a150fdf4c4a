"""OpenTelemetry traces, when the `otel` extra is installed (`pip install 'awaken[otel]'`).

Spans, with Restate's attribute names where it has them:

- `attempt {service}/{handler}`: one per attempt of an invocation (a retry or a resumption
  after suspension is a new attempt), child of the W3C `traceparent` of the request that made
  the invocation (its stored headers), so every attempt of one invocation is in one trace;
- `run {name}`: a ctx.run function that runs (a replayed step has its result and no span);
- `call {service}/{handler}` / `send ...`: a call or send to another handler, whose invocation
  gets the span's context as its `traceparent` header;
- `wait {what}`: the handler waiting on an awakeable, timer, call or promise; it ends when that
  completes, or when the invocation suspends (`awaken.wait.result`).

Nothing is imported from opentelemetry until a span could be made, and nothing is recorded
unless a tracer provider is set: by the application (`opentelemetry.trace.set_tracer_provider`),
by `opentelemetry-instrument`, or for awaken alone by `use_tracer_provider`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from awaken.observability.scope import current_scope

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider

INSTRUMENTATION = "awaken"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"


@dataclass(slots=True)
class _State:
    provider: Any = None  # set by use_tracer_provider; None: the global one
    tracer: Tracer | None = None
    tracer_of: Any = None  # the provider `tracer` came from
    trace: Any = None  # the opentelemetry.trace module, once imported
    absent: bool = False  # opentelemetry is not installed
    # No provider was set when we last looked: not before this (monotonic) time again. Looking
    # costs an environment lookup, on every attempt; a provider set later is seen within 1 s.
    untraced_until: float = 0.0


_state = _State()


def use_tracer_provider(provider: TracerProvider | None) -> None:
    """Trace awaken with `provider` rather than the global tracer provider (None: the global
    one again)."""
    _state.provider = provider
    _state.tracer = None
    _state.tracer_of = None
    _state.untraced_until = 0.0


def tracer() -> Tracer | None:
    """awaken's tracer, or None when nothing would record (no opentelemetry, or no provider).
    Looked up once per attempt (the hooks keep it in the invocation's scope)."""
    if _state.absent:
        return None
    now = time.monotonic()
    if now < _state.untraced_until:
        return None
    trace = _state.trace
    if trace is None:
        try:
            from opentelemetry import trace
        except ImportError:
            _state.absent = True
            return None
        _state.trace = trace
    provider = _state.provider or trace.get_tracer_provider()
    if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        # no SDK configured: spare the work of spans nobody records
        _state.untraced_until = now + 1.0
        return None
    if _state.tracer is None or _state.tracer_of is not provider:
        from importlib.metadata import PackageNotFoundError, version

        try:
            own = version("awaken")
        except PackageNotFoundError:
            own = None
        _state.tracer = provider.get_tracer(INSTRUMENTATION, own)
        _state.tracer_of = provider
    return _state.tracer


def _w3c() -> Any:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator()


def start_attempt(
    t: Tracer, invocation_id: str, target: str, headers: Mapping[str, str], attributes: dict[str, Any]
) -> Span:
    """The span of one attempt: a child of the invocation's `traceparent`, else a new trace
    (never of whatever span happened to be current where the attempt was started)."""
    from opentelemetry.trace import SpanKind

    carrier = {k: v for k, v in headers.items() if k in (TRACEPARENT, TRACESTATE)}
    parent = _w3c().extract(carrier)  # an empty context when there is no valid traceparent
    attributes = {"restate.invocation.id": invocation_id, "restate.invocation.target": target, **attributes}
    return t.start_span(f"attempt {target}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes)


@contextmanager
def current(span: Span) -> Iterator[None]:
    """Make `span` the current one (its children's parent) inside the block."""
    from opentelemetry.trace import use_span

    with use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
        yield


def make_current(span: Span) -> None:
    """Make `span` current in the running context for good (for a context that is thrown away
    with its task: nothing detaches it)."""
    from opentelemetry import context, trace

    context.attach(trace.set_span_in_context(span))


def set_result(span: Span, result: str, error: str | None = None, attribute: str = "awaken.result") -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute(attribute, result)
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, error))


def record_failure(exc: BaseException) -> None:
    """The current span (an attempt's) failed with `exc`."""
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    span = trace.get_current_span()
    if span.is_recording():
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


def current_span() -> Span | None:
    from opentelemetry import trace

    span = trace.get_current_span()
    return span if span.is_recording() else None


def outgoing_call(
    t: Tracer, kind: str, target: str, child_id: str, headers: Mapping[str, str]
) -> dict[str, str]:
    """A span for a call or send made by the current attempt, and the headers of the child
    invocation with that span's `traceparent` (replacing any the handler passed)."""
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    span = t.start_span(
        f"{kind} {target}",
        kind=SpanKind.PRODUCER,
        attributes={"restate.invocation.target": target, "awaken.child.invocation.id": child_id},
    )
    out = {k: v for k, v in headers.items() if k.lower() not in (TRACEPARENT, TRACESTATE)}
    _w3c().inject(out, context=trace.set_span_in_context(span))
    span.end()
    return out


def call_headers(kind: str, data: dict[str, Any]) -> dict[str, str]:
    """The headers of the invocation a CALL or SEND entry (`data`) creates: the handler's, with
    the `traceparent` of a span for this call when the attempt is traced."""
    headers: dict[str, str] = dict(data.get("headers") or {})
    scope = current_scope()
    if scope is None or scope.tracer is None:
        return headers
    target = "/".join(str(data[k]) for k in ("service", "key", "handler") if data.get(k) is not None)
    return outgoing_call(scope.tracer, kind, target, str(data.get("invocation_id")), headers)


def start_span(t: Tracer, name: str, attributes: dict[str, Any]) -> Span:
    return t.start_span(name, attributes=attributes)


def describe_wait(kinds: Iterable[tuple[str, str]]) -> str:
    """`wait awakeable`, `wait call greeter/greet`, `wait signal approve`, `wait sleep, awakeable`..."""
    parts = []
    for kind, name in kinds:
        part = f"{kind} {name}" if name and kind in ("call", "attach", "get_promise", "signal") else kind
        if part not in parts:
            parts.append(part)
    return "wait " + ", ".join(parts)


__all__ = ["call_headers", "tracer", "use_tracer_provider"]
