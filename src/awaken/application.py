"""`awaken.app(services=[...])`: the ASGI application that serves the ingress and runs the engine
in its lifespan. Settings come from keywords, else from the environment (what `awaken serve`
sets):

| keyword          | environment               | default               |
| ---------------- | ------------------------- | --------------------- |
| db               | AWAKEN_DB                 | sqlite:///awaken.db   |
| suspend_after    | AWAKEN_SUSPEND_AFTER (s)  | 1.0                   |
| always_replay    | AWAKEN_ALWAYS_REPLAY=1    | off (suspend_after=0) |
| synchronous      | AWAKEN_SQLITE_SYNCHRONOUS | full                  |
| max_body         | AWAKEN_MAX_BODY (bytes)   | 32 MiB                |
| migrate          | AWAKEN_NO_MIGRATE=1       | on (apply migrations) |
| lease_ms         | AWAKEN_LEASE_MS           | 3000                  |

`synchronous=normal` trades durability across power loss for speed: commits survive a crash
of the process but the last ones may be lost if the machine loses power.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from awaken.engine.engine import Engine, EngineConfig
from awaken.errors import AwakenError
from awaken.ingress.http import Receive, Scope, Send, respond_json
from awaken.ingress.routes import DEFAULT_MAX_BODY, Ingress
from awaken.sdk.service import AnyService
from awaken.storage import DEFAULT_LEASE_MS, open_store

log = logging.getLogger("awaken")


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


class AwakenApp:
    """An ASGI-3 application; the engine starts and stops with the ASGI lifespan."""

    def __init__(
        self,
        services: Iterable[AnyService],
        *,
        db: str | None = None,
        suspend_after: float | None = None,
        always_replay: bool | None = None,
        synchronous: str | None = None,
        max_body: int | None = None,
        migrate: bool | None = None,
        lease_ms: int | None = None,
        clock: Callable[[], float] = time.time,
        config: EngineConfig | None = None,
    ) -> None:
        self.services = list(services)
        self.db = db
        self.suspend_after = suspend_after
        self.always_replay = always_replay
        self.synchronous = synchronous
        self.max_body = max_body
        self.migrate = migrate
        self.lease_ms = lease_ms
        self.clock = clock
        self.base_config = config
        self.engine: Engine | None = None
        self._ingress: Ingress | None = None
        self._users = 0

    def configure(self, **settings: Any) -> None:
        """Override settings before start (used by `awaken serve`)."""
        for name, value in settings.items():
            if not hasattr(self, name):
                raise TypeError(f"unknown setting {name!r}")
            if value is not None:
                setattr(self, name, value)

    def _engine_config(self) -> EngineConfig:
        base = self.base_config or EngineConfig()
        always = self.always_replay
        if always is None:
            always = os.environ.get("AWAKEN_ALWAYS_REPLAY", "") not in ("", "0", "false")
        suspend = self.suspend_after
        if suspend is None:
            suspend = _env_float("AWAKEN_SUSPEND_AFTER", base.suspend_after)
        return EngineConfig(
            suspend_after=0.0 if always else suspend,
            retry_policy=base.retry_policy,
            retention_ms=base.retention_ms,
            poll_interval=base.poll_interval,
            timer_batch=base.timer_batch,
        )

    async def startup(self) -> Engine:
        """Open the store and start the engine (idempotent; reference counted)."""
        self._users += 1
        if self.engine is not None:
            return self.engine
        db = self.db or os.environ.get("AWAKEN_DB") or "sqlite:///awaken.db"
        sync = self.synchronous or os.environ.get("AWAKEN_SQLITE_SYNCHRONOUS") or "full"
        migrate = self.migrate
        if migrate is None:
            migrate = os.environ.get("AWAKEN_NO_MIGRATE", "") in ("", "0", "false")
        lease_ms = self.lease_ms or int(os.environ.get("AWAKEN_LEASE_MS") or DEFAULT_LEASE_MS)
        store = open_store(db, synchronous=sync, migrate=migrate, lease_ms=lease_ms)
        engine = Engine(self.services, store, self._engine_config(), clock=self.clock)
        await engine.start()
        max_body = self.max_body or int(os.environ.get("AWAKEN_MAX_BODY") or DEFAULT_MAX_BODY)
        self.engine = engine
        self._ingress = Ingress(engine, max_body)
        log.info("awaken engine started on %s (node %s)", db, store.node_id)
        return engine

    async def shutdown(self) -> None:
        self._users -= 1
        if self._users > 0 or self.engine is None:
            return
        engine, self.engine, self._ingress = self.engine, None, None
        await engine.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if self._ingress is None:
            await respond_json(send, 503, {"code": 503, "message": "engine not started", "source": "ingress"})
            return
        await self._ingress(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except AwakenError as exc:  # a known condition: its message says it all
                    log.error("awaken failed to start: %s", exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                except Exception as exc:
                    log.exception("awaken failed to start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def app(services: Iterable[AnyService], **settings: Any) -> AwakenApp:
    """The ASGI application serving `services` (restate-sdk's `restate.app`). Extra keywords of
    restate-sdk (`protocol`, `identity_keys`) are accepted and ignored."""
    for ignored in ("protocol", "identity_keys", "journal_value_codec"):
        settings.pop(ignored, None)
    return AwakenApp(services, **settings)
