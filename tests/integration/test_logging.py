"""Logs: one configuration for awaken, uvicorn and handlers; every line logged while an invocation
runs names it; a failed attempt logs its traceback once; handler lines through awaken.getLogger()
(or a logger with RestateLoggingFilter) are not repeated when the handler replays, which
always-replay mode makes it do at every await."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

import awaken
from awaken.observability.logs import configure_logging
from awaken.testing import harness
from tests.integration.conftest import FAST_RETRIES

svc = awaken.Service("logsvc")
handler_log = awaken.getLogger("tests.handler")
std_log = logging.getLogger("tests.std")
std_log.addFilter(awaken.RestateLoggingFilter())  # a standard logger that opts in
plain_log = logging.getLogger("tests.plain")  # one that does not: it repeats on replay
failures = {"left": 0}


def blocking_step(tag: str) -> str:
    handler_log.info("inside the step %s", tag)  # runs in a thread, once
    return f"B-{tag}"


@svc.handler()
async def steps(ctx: awaken.Context, tag: str) -> str:
    handler_log.info("start %s", tag)
    std_log.info("std start %s", tag)
    plain_log.info("plain start %s", tag)
    a = await ctx.run_typed("a", lambda: f"A-{tag}")
    handler_log.info("after a %s", tag)
    await ctx.sleep(timedelta(milliseconds=5))
    handler_log.info("after the sleep %s", tag)
    b = await ctx.run_typed("b", blocking_step, awaken.RunOptions(), tag)
    if failures["left"] > 0:
        failures["left"] -= 1
        raise RuntimeError(f"boom {tag}")
    handler_log.info("done %s", tag)
    return a + b


@pytest.fixture
def json_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """awaken's logging set-up, in JSON, into a buffer; the root logger as it was afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    configure_logging("info", "json", stream=buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


@pytest.mark.parametrize("always_replay", [True, False], ids=["always-replay", "in-memory"])
async def test_handler_lines_appear_once_whatever_the_replays(
    json_lines: Callable[[], list[dict[str, Any]]], always_replay: bool
) -> None:
    failures["left"] = 0
    async with harness(awaken.app([svc]), always_replay=always_replay, config=FAST_RETRIES) as env:
        r = await env.client.post("/logsvc/steps", json="x")
        assert r.status_code == 200 and r.json() == "A-xB-x"
        invocation_id = r.headers["x-restate-id"]
    lines = json_lines()
    mine = [line["message"] for line in lines if line["logger"] in ("tests.handler", "tests.std")]
    assert mine == [
        "start x", "std start x", "after a x", "after the sleep x", "inside the step x", "done x",
    ]  # fmt: skip
    plain = [line for line in lines if line["logger"] == "tests.plain"]
    if always_replay:
        assert len(plain) >= 2  # the handler did replay: an unfiltered logger repeats
    else:
        assert len(plain) == 1
    for line in lines:
        if line["logger"].startswith("tests."):
            assert line["invocation_id"] == invocation_id
            assert (line["service"], line["handler"], line["level"]) == ("logsvc", "steps", "INFO")
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


async def test_a_failed_attempt_logs_its_traceback_once_with_the_invocation(
    json_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    failures["left"] = 1
    async with harness(awaken.app([svc]), always_replay=True, config=FAST_RETRIES) as env:
        r = await env.client.post("/logsvc/steps", json="f")
        assert r.status_code == 200 and r.json() == "A-fB-f"
        invocation_id = r.headers["x-restate-id"]
    lines = json_lines()
    failed = [line for line in lines if line["logger"] == "awaken.engine" and "failed" in line["message"]]
    assert len(failed) == 1, failed
    (line,) = failed
    assert line["level"] == "WARNING"
    assert line["message"] == f"invocation {invocation_id} attempt 1 failed: RuntimeError: boom f"
    assert (line["invocation_id"], line["service"], line["handler"]) == (invocation_id, "logsvc", "steps")
    assert "Traceback" in line["exception"] and 'raise RuntimeError(f"boom {tag}")' in line["exception"]
    assert sum("Traceback" in str(line.get("exception", "")) for line in lines) == 1
    # the retry replays the steps: their lines are not repeated
    assert [x["message"] for x in lines if x["logger"] == "tests.handler"].count("inside the step f") == 1
    assert [x["message"] for x in lines if x["logger"] == "tests.handler"].count("done f") == 1


def test_text_lines_and_uvicorn_go_through_the_same_handler() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("uvicorn.error").level)
    buffer = io.StringIO()
    try:
        configure_logging("info", "text", stream=buffer)
        logging.getLogger("uvicorn.error").warning("a uvicorn warning")
        logging.getLogger("uvicorn.error").info("Started server process")  # chatter: debug only
        logging.getLogger("awaken.engine").warning("no invocation here")
        logging.getLogger("awaken.serve").info("lifecycle")
        configure_logging("warning", "text", stream=buffer)
        logging.getLogger("awaken.serve").info("lifecycle at any level")
        logging.getLogger("tests.app").info("an app line below the level")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("uvicorn.error").setLevel(saved[2])
    lines = buffer.getvalue().splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert len(lines) == 4, lines
    assert re.fullmatch(stamp + r" WARNING uvicorn\.error a uvicorn warning", lines[0])
    assert re.fullmatch(stamp + r" WARNING awaken\.engine no invocation here", lines[1])
    assert re.fullmatch(stamp + r" INFO    awaken\.serve lifecycle", lines[2])
    assert lines[3].endswith("INFO    awaken.serve lifecycle at any level")


async def test_text_lines_name_the_invocation() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    failures["left"] = 0
    try:
        configure_logging("info", "text", stream=buffer)
        async with harness(awaken.app([svc]), config=FAST_RETRIES) as env:
            r = await env.client.post("/logsvc/steps", json="t")
            invocation_id = r.headers["x-restate-id"]
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    start = next(line for line in buffer.getvalue().splitlines() if line.endswith(" start t"))
    assert f"INFO    tests.handler [logsvc/steps {invocation_id}] start t" in start


def test_the_filter_passes_lines_outside_invocations() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    assert awaken.RestateLoggingFilter().filter(record)
    assert not awaken.RestateLoggingFilter("other").filter(record)  # logging.Filter's name rule


def test_configure_logging_refuses_unknown_levels_and_formats() -> None:
    with pytest.raises(ValueError, match="level"):
        configure_logging("loud")
    with pytest.raises(ValueError, match="format"):
        configure_logging("info", "xml")
