"""restate-sdk's test harness (`restate.create_test_harness`, `restate.test_harness`), on awaken's
own engine: no Docker, no Restate server. The app is served in this process by uvicorn on
loopback ports (the ingress and the admin API), on a temporary SQLite file.

- `always_replay=True` suspends at every await that waits and resumes by replaying the journal
  (as Restate's inactivity timeout of 0 does), and replays a handler that completes once more
  against its whole journal (Restate replays after every step; awaken runs steps in place). A
  replay that takes another path than the journal ends the invocation at once with code 570
  (Restate's journal-mismatch code), so that the test fails instead of retrying.
- `disable_retries=True` gives every handler without its own retry policy one attempt, then
  kills the invocation (Restate's `max-attempts=1`, `on-max-attempts=kill`).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from awaken.admin.app import AdminApp
from awaken.application import AwakenApp
from awaken.client.restate_client import create_client
from awaken.core.retry import RetryPolicy
from awaken.engine.engine import EngineConfig
from awaken.sdk.guards import replay_on_completion, strict_determinism
from awaken.types import HarnessEnvironment


class _Server(uvicorn.Server):
    # a server of a test: the test runner owns the process's signals
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _config(disable_retries: bool) -> EngineConfig:
    if disable_retries:
        return EngineConfig(retry_policy=RetryPolicy(max_attempts=1, on_max_attempts="kill"))
    return EngineConfig()


class _Running:
    """The engine and its two HTTP servers, started and stopped in the running event loop."""

    def __init__(self, app: AwakenApp, always_replay: bool, disable_retries: bool, log_level: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="awaken-harness-")
        db = Path(self._tmp.name) / "harness.db"
        self.app = AwakenApp(
            app.services,
            db=f"sqlite:///{db}",
            always_replay=always_replay,
            synchronous="normal",
            config=_config(disable_retries),
        )
        self.log_level = log_level
        self._servers: list[_Server] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.ingress_url = self.admin_url = ""

    async def start(self) -> None:
        await self.app.startup()
        try:
            urls = []
            for asgi in (self.app, AdminApp(self.app)):
                config = uvicorn.Config(
                    asgi, host="127.0.0.1", port=0, lifespan="off", log_level=self.log_level, access_log=False
                )
                server = _Server(config)
                task = asyncio.get_running_loop().create_task(server.serve())
                self._servers.append(server)
                self._tasks.append(task)
                while not server.started:
                    if task.done():
                        task.result()  # raise why it did not start
                        raise RuntimeError("the test server stopped while starting")
                    await asyncio.sleep(0.005)
                port = server.servers[0].sockets[0].getsockname()[1]
                urls.append(f"http://127.0.0.1:{port}")
            self.ingress_url, self.admin_url = urls
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._servers.clear()
        self._tasks.clear()
        await self.app.shutdown()
        self._tmp.cleanup()


@contextlib.asynccontextmanager
async def create_test_harness(
    app: AwakenApp,
    follow_logs: bool = False,
    restate_image: str = "docker.io/restatedev/restate:latest",
    always_replay: bool = False,
    disable_retries: bool = False,
    journal_value_codec: Any | None = None,
) -> AsyncIterator[HarnessEnvironment]:
    """Serve `app` for a test; yields the ingress and admin URLs and a `create_client` client.
    `restate_image` is accepted for restate-sdk's signature and unused (there is no container)."""
    if journal_value_codec is not None:
        raise NotImplementedError("journal value codecs are not supported by awaken")
    token = strict_determinism.set(True)
    replay_token = replay_on_completion.set(always_replay)
    running = _Running(app, always_replay, disable_retries, "info" if follow_logs else "warning")
    try:
        await running.start()
        try:
            async with create_client(running.ingress_url) as client:
                yield HarnessEnvironment(running.ingress_url, running.admin_url, client)
        finally:
            await running.stop()
    finally:
        replay_on_completion.reset(replay_token)
        strict_determinism.reset(token)


class RestateTestHarness:
    """The synchronous harness of `test_harness` (restate-sdk's deprecated form): the engine and
    its servers run in a thread of their own while the test holds it."""

    __test__ = False  # not a pytest test class

    def __init__(self, app: AwakenApp, always_replay: bool, disable_retries: bool, follow_logs: bool) -> None:
        self._running = _Running(app, always_replay, disable_retries, "info" if follow_logs else "warning")
        self._always_replay = always_replay
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    @property
    def ingress_url(self) -> str:
        return self._running.ingress_url

    @property
    def admin_url(self) -> str:
        return self._running.admin_url

    def start(self) -> None:
        started = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            strict_determinism.set(True)
            replay_on_completion.set(self._always_replay)
            self._stop = asyncio.Event()
            try:
                await self._running.start()
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            await self._stop.wait()
            await self._running.stop()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(main())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="awaken-test-harness", daemon=True)
        self._thread.start()
        if not started.wait(30):
            raise RuntimeError("the test harness did not start within 30 s")
        if failure:
            raise failure[0]

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(30)
        self._thread = None

    def ingress_client(self) -> httpx.Client:
        """An httpx client of the ingress."""
        if not self.ingress_url:
            raise AssertionError("the harness has not been started: use .start() or a with block")
        return httpx.Client(base_url=self.ingress_url)

    def __enter__(self) -> RestateTestHarness:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def test_harness(
    app: AwakenApp,
    follow_logs: bool = False,
    restate_image: str = "docker.io/restatedev/restate:latest",
    always_replay: bool = False,
    disable_retries: bool = False,
) -> RestateTestHarness:
    """Deprecated in restate-sdk in favour of `create_test_harness`; same options."""
    return RestateTestHarness(app, always_replay, disable_retries, follow_logs)


test_harness.__test__ = False  # type: ignore[attr-defined]  # not a pytest test

__all__ = ["RestateTestHarness", "create_test_harness", "test_harness"]
