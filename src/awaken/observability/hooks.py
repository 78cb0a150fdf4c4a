"""The calls the engine and the SDK make into logging and tracing, one line at each place:

| where (module: function)                   | hook                                   |
| ------------------------------------------ | -------------------------------------- |
| engine/attempt.py: Attempt.start           | `start_attempt(record, machine, run)`  |
| engine/attempt.py: Attempt._run_handler    | `attempt_ended(transition)`            |
| engine/attempt.py: Attempt._retry_transition | `attempt_failed(record, n, msg, exc)` |
| engine/attempt.py: Attempt.spawn_step      | `start_step(machine, index, body)`     |
| engine/attempt.py: Attempt.wait_any        | `with waiting(machine, indices):`      |
| engine/attempt.py: Attempt.run_blocking    | the function runs in `copy_context()`  |
| sdk/calls.py: CallActions._invoke         | `tracing.call_headers(kind, data)`     |

All the logic is here, so that another engine needs only these lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from awaken.core.journal import EntryKind
from awaken.errors import Suspended
from awaken.observability import tracing
from awaken.observability.scope import LIVE, SCOPE, InvocationScope
from awaken.storage.protocol import Complete, Pause, Retry, Suspend, Transition

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from awaken.core.machine import InvocationMachine
    from awaken.storage.protocol import InvocationRecord

log = logging.getLogger("awaken.engine")


def start_attempt(
    record: InvocationRecord, machine: InvocationMachine, run: Callable[[], Coroutine[Any, Any, None]]
) -> asyncio.Task[None]:
    """Start an attempt's task, `run()`, in the scope of its invocation: its log lines name the
    invocation, and when it is traced its spans hang under the attempt's span. The scope is set
    in the task's own context, never in the caller's (an attempt may be started by another's)."""
    t = tracing.tracer()
    context = contextvars.copy_context()
    scope = InvocationScope(
        record.id, record.service, record.handler, record.key, lambda: machine.replaying, t
    )
    context.run(SCOPE.set, scope)
    context.run(LIVE.set, False)
    body = run() if t is None else _traced_attempt(t, record, machine, run)
    return asyncio.get_running_loop().create_task(body, context=context)


async def _traced_attempt(
    t: Tracer,
    record: InvocationRecord,
    machine: InvocationMachine,
    run: Callable[[], Coroutine[Any, Any, None]],
) -> None:
    target = "/".join(p for p in (record.service, record.key, record.handler) if p is not None)
    attributes: dict[str, Any] = {
        "restate.invocation.service": record.service,
        "restate.invocation.handler": record.handler,
        "awaken.attempt.retry_count": record.attempts,
        "awaken.attempt.epoch": record.epoch,
        "awaken.attempt.replayed_entries": machine.stored_length,
    }
    if record.key is not None:
        attributes["restate.invocation.key"] = record.key
    span = tracing.start_attempt(t, record.id, target, record.headers, attributes)
    try:
        with tracing.current(span):
            # `run` is called here, not before: a task cancelled before it starts then leaves no
            # coroutine that was never awaited
            await run()
    except asyncio.CancelledError:
        tracing.set_result(span, "stopped")  # the engine stopped, or the invocation was killed
        raise
    except BaseException as exc:
        span.record_exception(exc)
        tracing.set_result(span, "crashed", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        span.end()


def attempt_ended(transition: Transition) -> None:
    """How the current attempt ends, on its span."""
    scope = SCOPE.get()
    if scope is None or scope.tracer is None:
        return
    span = tracing.current_span()
    if span is None:
        return
    match transition:
        case Complete(outcome=outcome):
            failure = outcome.failure
            error = None if failure is None else f"{failure.code}: {failure.message}"
            tracing.set_result(span, "completed", error)
        case Suspend():
            tracing.set_result(span, "suspended")
        case Retry(failure=failure):
            tracing.set_result(span, "retrying", failure)
        case Pause(failure=failure):
            tracing.set_result(span, "paused", failure)
        case _:
            pass


def attempt_failed(record: InvocationRecord, attempt: int, message: str, exc: BaseException) -> None:
    """An attempt failed in a retryable way: one line, with the traceback (logged here once,
    not again by the retries' lines), and the exception on the attempt's span."""
    log.warning("invocation %s attempt %d failed: %s", record.id, attempt, message, exc_info=exc)
    scope = SCOPE.get()
    if scope is not None and scope.tracer is not None:
        tracing.record_failure(exc)


def start_step(machine: InvocationMachine, index: int, body: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """Start a ctx.run step's task. Its function runs for real (its log lines are never replay
    lines), under a `run {name}` span that ends with the task."""
    context = contextvars.copy_context()
    context.run(LIVE.set, True)
    scope = SCOPE.get()
    t = scope.tracer if scope is not None else None
    if t is None:
        return asyncio.get_running_loop().create_task(body, context=context)
    span = tracing.start_span(t, f"run {machine.entry(index).name}", {"awaken.entry.index": index})
    context.run(tracing.make_current, span)
    task = asyncio.get_running_loop().create_task(body, context=context)
    task.add_done_callback(lambda _t: _step_ended(machine, index, span))
    return task


def _step_ended(machine: InvocationMachine, index: int, span: Span) -> None:
    entry = machine.entry(index)
    attempts = entry.data.get("attempts")
    if isinstance(attempts, int):
        span.set_attribute("awaken.step.failed_attempts", attempts)
    if entry.outcome is None:
        tracing.set_result(span, "not recorded", "the step did not complete (see the attempt)")
    elif entry.outcome.failure is not None:
        failure = entry.outcome.failure
        tracing.set_result(span, "failed", f"{failure.code}: {failure.message}")
    else:
        tracing.set_result(span, "succeeded")
    span.end()


_UNTRACED = contextlib.nullcontext()


def waiting(machine: InvocationMachine, indices: Sequence[int]) -> AbstractContextManager[None]:
    """The handler waits on these entries (nothing else to do): a `wait ...` span, unless it
    only waits on its own steps (their spans tell) or the attempt is not traced."""
    scope = SCOPE.get()
    t = scope.tracer if scope is not None else None
    if t is None:
        return _UNTRACED
    entries = [machine.entry(i) for i in indices]
    if all(e.kind is EntryKind.RUN for e in entries):
        return _UNTRACED
    name = tracing.describe_wait((e.kind.value, e.name) for e in entries if e.kind is not EntryKind.RUN)
    return _wait_span(tracing.start_span(t, name, {"awaken.entry.indices": list(indices)}))


@contextlib.contextmanager
def _wait_span(span: Span) -> Iterator[None]:
    try:
        yield
    except Suspended:
        tracing.set_result(span, "suspended", attribute="awaken.wait.result")
        raise
    except BaseException as exc:
        tracing.set_result(span, "failed", f"{type(exc).__name__}: {exc}", attribute="awaken.wait.result")
        raise
    else:
        tracing.set_result(span, "completed", attribute="awaken.wait.result")
    finally:
        span.end()
