"""OpenTelemetry traces through the OTel SDK's in-memory exporter: a span per attempt, child spans
per step, call and wait; the ingress request's W3C traceparent is the parent of every attempt of
its invocation, and a call between handlers hands its span on as the child's traceparent."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import awaken
from awaken.observability import tracing
from awaken.testing import harness
from tests.integration.conftest import FAST_RETRIES

front = awaken.Service("front")
back = awaken.Service("back")

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@back.handler()
async def work(ctx: awaken.Context, x: int) -> int:
    return await ctx.run_typed("compute", lambda: x * 2)


@front.handler()
async def start(ctx: awaken.Context, n: int) -> int:
    prepared = await ctx.run_typed("prepare", lambda: n + 1)
    await ctx.sleep(timedelta(milliseconds=5))
    doubled: int = await ctx.service_call(work, prepared)
    return doubled


@front.handler()
async def broken(ctx: awaken.Context) -> None:
    raise awaken.TerminalError("nope", 422)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_tracer_provider(provider)
    yield exporter
    tracing.use_tracer_provider(None)
    provider.shutdown()


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def _by_name(finished: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in finished if s.name == name]


def _parent(span: ReadableSpan) -> str | None:
    return None if span.parent is None else _hex(span.parent.span_id, 16)


def _id(span: ReadableSpan) -> str:
    assert span.context is not None
    return _hex(span.context.span_id, 16)


@pytest.mark.parametrize("always_replay", [False, True], ids=["in-memory", "always-replay"])
async def test_spans_per_attempt_step_call_and_wait(spans: InMemorySpanExporter, always_replay: bool) -> None:
    async with harness(awaken.app([front, back]), always_replay=always_replay, config=FAST_RETRIES) as env:
        r = await env.client.post("/front/start", json=20, headers={"traceparent": TRACEPARENT})
        assert r.status_code == 200 and r.json() == 42
        invocation_id = r.headers["x-restate-id"]
    finished = spans.get_finished_spans()
    assert finished, "no span was recorded"
    assert {_hex(s.context.trace_id, 32) for s in finished if s.context} == {TRACE_ID}  # one trace

    attempts = _by_name(finished, "attempt front/start")
    assert attempts and all(_parent(a) == PARENT_ID for a in attempts)  # the ingress request's
    assert all(a.attributes and a.attributes["restate.invocation.id"] == invocation_id for a in attempts)
    results = [a.attributes["awaken.result"] for a in attempts if a.attributes]
    assert results[-1] == "completed"
    if always_replay:
        assert len(attempts) >= 2 and "suspended" in results  # each resumption is an attempt
    attempt_ids = {_id(a) for a in attempts}

    (prepare,) = _by_name(finished, "run prepare")  # once, however often the handler replayed
    assert _parent(prepare) in attempt_ids
    assert prepare.attributes and prepare.attributes["awaken.result"] == "succeeded"
    (call,) = _by_name(finished, "call back/work")
    assert _parent(call) in attempt_ids
    waits = [s for s in finished if s.name.startswith("wait ")]
    assert {"wait sleep", "wait call back/work"} <= {w.name for w in waits}
    assert all(_parent(w) in attempt_ids for w in waits)
    if always_replay:
        assert any(w.attributes and w.attributes["awaken.wait.result"] == "suspended" for w in waits)

    # the callee's attempts are children of the call's span, in the same trace
    callee = _by_name(finished, "attempt back/work")
    assert callee and all(_parent(a) == _id(call) for a in callee)
    (compute,) = _by_name(finished, "run compute")
    assert _parent(compute) in {_id(a) for a in callee}


async def test_without_a_traceparent_an_invocation_starts_a_trace(spans: InMemorySpanExporter) -> None:
    async with harness(awaken.app([front, back]), config=FAST_RETRIES) as env:
        r = await env.client.post("/front/broken")
        assert r.status_code == 422
    (attempt,) = _by_name(spans.get_finished_spans(), "attempt front/broken")
    assert attempt.parent is None
    assert attempt.status.status_code is StatusCode.ERROR and attempt.status.description == "422: nope"


async def test_no_tracer_provider_no_spans() -> None:
    tracing.use_tracer_provider(None)
    assert tracing.tracer() is None  # the global provider is opentelemetry's no-op proxy
    async with harness(awaken.app([front, back]), config=FAST_RETRIES) as env:
        r = await env.client.post("/front/start", json=1, headers={"traceparent": TRACEPARENT})
        assert r.status_code == 200 and r.json() == 4


def test_everything_works_without_opentelemetry() -> None:
    """The `otel` extra is optional: with opentelemetry not importable, calls (with a
    traceparent) and logging work as before."""
    script = textwrap.dedent(
        """
        import asyncio, sys
        from datetime import timedelta
        sys.modules["opentelemetry"] = None  # as if the package were not installed
        import awaken
        from awaken.observability import tracing
        from awaken.testing import harness

        back, front = awaken.Service("back"), awaken.Service("front")

        @back.handler()
        async def work(ctx: awaken.Context, x: int) -> int:
            return await ctx.run_typed("compute", lambda: x * 2)

        @front.handler()
        async def start(ctx: awaken.Context, n: int) -> int:
            prepared = await ctx.run_typed("prepare", lambda: n + 1)
            await ctx.sleep(timedelta(milliseconds=5))
            return await ctx.service_call(work, prepared)

        async def main():
            assert tracing.tracer() is None
            async with harness(awaken.app([front, back])) as env:
                r = await env.client.post("/front/start", json=1, headers={"traceparent": TRACEPARENT})
                assert r.status_code == 200 and r.json() == 4, r.text
            print("ok")

        asyncio.run(main())
        """
    ).replace("TRACEPARENT", repr(TRACEPARENT))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
