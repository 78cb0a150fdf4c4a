"""Stopping `awaken serve` in bounded time, whatever its clients do.

On SIGINT or SIGTERM the listeners close, and the requests in flight get most of the grace
period to finish (a call whose invocation completes meanwhile still gets its answer). Those still
waiting then (a call or attach on an invocation that waits for an awakeable, say) are answered
503 with Restate's error JSON, the engine stops (running invocations are left to recovery: the
store has them, and they go on at the next start), and the process exits. If that has not
happened when the grace period ends, the process exits anyway: nothing acknowledged is lost (the
store is crash-safe), and what ran goes on at the next start. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn

from awaken.ingress.errors import error_body
from awaken.ingress.http import Receive, Scope, Send, respond_error
from awaken.observability.logs import LIFECYCLE_LOGGER

log = logging.getLogger(LIFECYCLE_LOGGER)

SHUTTING_DOWN = error_body(
    503,
    "awaken is shutting down; an invocation this request started or waits for goes on after the "
    "restart: attach to it (or call again with the same idempotency key) then",
    "ingress",
)


@dataclass(slots=True)
class _InFlight:
    task: asyncio.Task[Any]
    started: bool = False  # its response has begun: it is let finish
    drained: bool = False  # cancelled by drain(): it gets the 503


class Draining:
    """ASGI middleware that knows the requests in flight. Once `closing`, new requests get 503
    at once; `drain()` answers 503 to those that have not begun their response (they wait)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.closing = False
        self._in_flight: dict[asyncio.Task[Any], _InFlight] = {}

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.closing:
            await respond_error(send, 503, SHUTTING_DOWN, headers=[(b"connection", b"close")])
            return
        task = asyncio.current_task()
        assert task is not None
        state = _InFlight(task)
        self._in_flight[task] = state

        async def tracked(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state.started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except asyncio.CancelledError:
            if not state.drained:
                raise
            task.uncancel()  # our own cancellation: answer instead of dying
            if not state.started:
                await respond_error(send, 503, SHUTTING_DOWN, headers=[(b"connection", b"close")])
        finally:
            self._in_flight.pop(task, None)

    def drain(self) -> int:
        """Answer 503 to every request that has not begun its response; how many."""
        count = 0
        for state in list(self._in_flight.values()):
            if not state.started and not state.drained:
                state.drained = True
                state.task.cancel()
                count += 1
        return count


def drain_after(grace: float) -> float:
    """When, after the signal, requests still waiting are answered 503: the engine gets the last
    second of the grace period (half of it, for a short one) to stop."""
    return grace - min(1.0, grace / 2)


class Stopper:
    """The signal handlers of `awaken serve` and what they set in motion."""

    def __init__(self, servers: Sequence[uvicorn.Server], draining: Sequence[Draining], grace: float) -> None:
        self.servers = servers
        self.draining = draining
        self.grace = grace
        self.stopping = False
        self._watchdog: threading.Timer | None = None
        self._drain_timer: asyncio.TimerHandle | None = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.on_signal, sig)

    def on_signal(self, sig: signal.Signals) -> None:
        if self.stopping:
            log.warning("%s again: exiting now", sig.name)
            _exit(128 + sig.value)
        self.stop(f"{sig.name} received")

    def stop(self, why: str) -> None:
        """Begin to stop (idempotent): close the listeners, then answer the waiting requests."""
        if self.stopping:
            return
        self.stopping = True
        waiting = sum(d.in_flight for d in self.draining)
        for d in self.draining:
            d.closing = True
        for server in self.servers:
            server.should_exit = True
        after = drain_after(self.grace)
        log.info(
            "stopping (%s): %d request(s) in flight have %.1f s to finish; signal again to exit at once",
            why,
            waiting,
            after,
        )
        self._drain_timer = asyncio.get_running_loop().call_later(after, self._drain)
        # A thread, not the loop: a handler blocking the loop must not keep the process alive.
        self._watchdog = threading.Timer(self.grace, self._too_late)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _drain(self) -> None:
        answered = sum(d.drain() for d in self.draining)
        if answered:
            log.info(
                "answered %d waiting request(s) with 503 (their invocations go on after restart)", answered
            )

    def _too_late(self) -> None:
        log.error(
            "did not stop within %.1f s: exiting now (running invocations go on at the next start)",
            self.grace,
        )
        _exit(1)

    def finished(self) -> None:
        """The servers and the engine have stopped. The watchdog stays: it is a daemon thread, gone
        with the process, and it still bounds whatever the interpreter's exit waits for."""
        if self._drain_timer is not None:
            self._drain_timer.cancel()


def _exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
