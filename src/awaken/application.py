"""`awaken.app(services=[...])`: the ASGI application that serves the ingress and runs the engine
in its lifespan. Settings come from keywords, else from `awaken.settings` (the environment,
then awaken.toml), which `awaken serve` also reads:

| keyword          | setting (environment)                  | default               |
| ---------------- | -------------------------------------- | --------------------- |
| db               | db (AWAKEN_DB)                         | sqlite:///awaken.db   |
| suspend_after    | suspend_after (AWAKEN_SUSPEND_AFTER, s)| 1.0                   |
| always_replay    | always_replay (AWAKEN_ALWAYS_REPLAY=1) | off (suspend_after=0) |
| synchronous      | sqlite_synchronous (AWAKEN_SQLITE_SYNCHRONOUS) | full          |
| max_body         | max_body (AWAKEN_MAX_BODY, bytes)      | 32 MiB                |
|                  | max_inflight_bodies (AWAKEN_MAX_INFLIGHT_BODIES, bytes) | 128 MiB |
|                  | sqlite_busy_timeout (AWAKEN_SQLITE_BUSY_TIMEOUT, s) | 2 s  |
| migrate          | migrate (AWAKEN_MIGRATE)               | on                    |
| lease_ms         | lease (AWAKEN_LEASE, s)                | 3 s                   |
| signing_key      | request_identity_private_key_pem_file  | unsigned requests     |
|                  | inactivity_timeout (AWAKEN_INACTIVITY_TIMEOUT, s) | 60 s       |

The identity key signs requests to deployments (handlers served elsewhere); its setting is a PEM
file, `AWAKEN_REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE` in the environment.

`synchronous=normal` trades durability across power loss for speed: commits survive a crash
of the process but the last ones may be lost if the machine loses power.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from awaken.engine.engine import Engine, EngineConfig
from awaken.errors import AwakenError
from awaken.ingress.http import Receive, Scope, Send, respond_json
from awaken.ingress.routes import Ingress
from awaken.protocol import IdentityKeyError, SigningKey
from awaken.sdk.service import AnyService
from awaken.settings import Settings, SettingsError, load_settings
from awaken.storage import open_store, redact_url

log = logging.getLogger("awaken")


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
        signing_key: SigningKey | None = None,
    ) -> None:
        self.services = list(services)
        self.signing_key = signing_key
        self.db = db
        self.suspend_after = suspend_after
        self.always_replay = always_replay
        self.synchronous = synchronous
        self.max_body = max_body
        self.migrate = migrate
        self.lease_ms = lease_ms
        # set by `awaken serve`'s flags (else the environment and the settings file)
        self.sqlite_busy_timeout: float | None = None
        self.max_inflight_bodies: int | None = None
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

    def settings(self) -> Settings:
        """The effective settings: this app's keywords over the environment and awaken.toml."""
        return load_settings(
            db=self.db,
            suspend_after=self.suspend_after,
            always_replay=self.always_replay,
            sqlite_synchronous=self.synchronous,
            max_body=self.max_body,
            migrate=self.migrate,
            lease=None if self.lease_ms is None else self.lease_ms / 1000,
            sqlite_busy_timeout=self.sqlite_busy_timeout,
            max_inflight_bodies=self.max_inflight_bodies,
        )

    def _engine_config(self, settings: Settings) -> EngineConfig:
        base = self.base_config or EngineConfig()
        suspend = (
            settings.suspend_after if "suspend_after" in settings.model_fields_set else base.suspend_after
        )
        inactivity = (
            settings.inactivity_timeout
            if "inactivity_timeout" in settings.model_fields_set
            else base.remote_inactivity
        )
        return dataclasses.replace(
            base, suspend_after=0.0 if settings.always_replay else suspend, remote_inactivity=inactivity
        )

    async def startup(self) -> Engine:
        """Open the store and start the engine (idempotent; reference counted)."""
        self._users += 1
        if self.engine is not None:
            return self.engine
        try:
            settings = self.settings()
            store = open_store(
                settings.db,
                synchronous=settings.sqlite_synchronous,
                migrate=settings.migrate,
                lease_ms=int(settings.lease * 1000),
                busy_timeout=settings.sqlite_busy_timeout,
            )
        except BaseException:
            self._users -= 1
            raise
        try:
            key_file = settings.request_identity_private_key_pem_file
            signing_key = self.signing_key
            if signing_key is None and key_file is not None:
                signing_key = SigningKey.from_pem_file(key_file)
        except IdentityKeyError as exc:
            self._users -= 1
            raise SettingsError(str(exc)) from exc
        engine = Engine(
            self.services, store, self._engine_config(settings), clock=self.clock, signing_key=signing_key
        )
        try:
            await engine.start()
        except BaseException:
            self._users -= 1
            raise
        self.engine = engine
        self._ingress = Ingress(engine, settings.max_body, settings.max_inflight_bodies)
        log.info("awaken engine started on %s (node %s)", redact_url(settings.db), store.node_id)
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
