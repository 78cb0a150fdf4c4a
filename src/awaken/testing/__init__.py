"""Run an app in-process against a temporary store, with a clock the test controls.

    async with awaken.testing.harness(app, always_replay=True) as env:
        r = await env.client.post("/greeter/greet", json="world")
        env.clock.advance(60)          # fire timers due in the next minute

`always_replay=True` suspends at every await and resumes by replaying the journal: a handler
that is not deterministic fails there with a NonDeterminismError.

restate-sdk's harness (`create_test_harness`, `test_harness`: real loopback URLs, a
`create_client` client) is in `awaken.testing.restate_harness`, re-exported here.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from awaken.application import AwakenApp
from awaken.engine.engine import Engine, EngineConfig


class ManualClock:
    """A clock that runs with real time and that a test can move ahead with `advance()`."""

    def __init__(self) -> None:
        self.offset = 0.0
        self._engine: Engine | None = None

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Jump ahead: timers due within `seconds` fire now."""
        self.offset += seconds
        if self._engine is not None:
            self._engine.wake_scheduler()


@dataclass
class TestEnvironment:
    __test__ = False  # not a pytest test class

    app: AwakenApp
    engine: Engine
    client: httpx.AsyncClient
    clock: ManualClock
    db_path: Path


@contextlib.asynccontextmanager
async def harness(
    app: AwakenApp,
    *,
    always_replay: bool = False,
    suspend_after: float = 0.05,
    db_path: str | Path | None = None,
    config: EngineConfig | None = None,
    db: str | None = None,
) -> AsyncIterator[TestEnvironment]:
    """Start `app`'s engine on a temporary SQLite file (or on the database `db`, a `--db` URL such
    as `postgresql://...`) and give an httpx client bound to it."""
    with tempfile.TemporaryDirectory(prefix="awaken-test-") as tmp:
        path = Path(db_path) if db_path is not None else Path(tmp) / "test.db"
        clock = ManualClock()
        test_app = AwakenApp(
            app.services,
            db=db or f"sqlite:///{path}",
            suspend_after=suspend_after,
            always_replay=always_replay,
            synchronous="normal",
            clock=clock,
            config=config,
        )
        engine = await test_app.startup()
        clock._engine = engine
        transport = httpx.ASGITransport(app=test_app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://awaken") as client:
                yield TestEnvironment(test_app, engine, client, clock, path)
        finally:
            await test_app.shutdown()


from awaken.testing.restate_harness import RestateTestHarness, create_test_harness, test_harness  # noqa: E402

__all__ = [
    "ManualClock",
    "RestateTestHarness",
    "TestEnvironment",
    "create_test_harness",
    "harness",
    "test_harness",
]
