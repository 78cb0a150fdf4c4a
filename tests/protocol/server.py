"""awaken itself, serving real SDK endpoints: an app (with local services of its own) whose ingress
and admin API listen on loopback ports, in this process, on a fresh SQLite file or on a
PostgreSQL database."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from awaken.admin.app import AdminApp
from awaken.application import AwakenApp
from awaken.engine.engine import Engine, EngineConfig
from awaken.protocol import SigningKey
from awaken.sdk.service import AnyService


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the test runner owns the signals


@dataclass
class Awaken:
    app: AwakenApp
    engine: Engine
    ingress: httpx.AsyncClient
    admin: httpx.AsyncClient
    ingress_url: str
    admin_url: str

    async def register(self, uri: str, **fields: Any) -> dict[str, Any]:
        r = await self.admin.post("/deployments", json={"uri": uri, **fields})
        assert r.status_code in (200, 201), r.text
        body: dict[str, Any] = r.json()
        return body

    async def wait_status(self, invocation_id: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
        """Poll the admin API until the invocation reaches `status` (the state is what is tested)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            r = await self.admin.get(f"/invocations/{invocation_id}")
            body: dict[str, Any] = r.json()
            if r.status_code == 200 and body["status"] == status:
                return body
            if loop.time() > deadline:
                raise AssertionError(f"{invocation_id} is not {status}: {body}")
            await asyncio.sleep(0.02)


async def _listen(asgi: Any) -> tuple[_Server, asyncio.Task[None], str]:
    config = uvicorn.Config(asgi, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    server = _Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server stopped while starting")
        await asyncio.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def serve(
    services: Iterable[AnyService] = (),
    *,
    db: str | None = None,
    config: EngineConfig | None = None,
    signing_key: SigningKey | None = None,
    suspend_after: float | None = None,
) -> AsyncIterator[Awaken]:
    with tempfile.TemporaryDirectory(prefix="awaken-protocol-") as tmp:
        app = AwakenApp(
            services,
            db=db or f"sqlite:///{Path(tmp) / 'awaken.db'}",
            synchronous="normal",
            config=config,
            signing_key=signing_key,
            suspend_after=suspend_after,
        )
        engine = await app.startup()
        servers: list[tuple[_Server, asyncio.Task[None], str]] = []
        try:
            servers.append(await _listen(app))
            servers.append(await _listen(AdminApp(app)))
            ingress_url, admin_url = servers[0][2], servers[1][2]
            async with (
                httpx.AsyncClient(base_url=ingress_url, timeout=30) as ingress,
                httpx.AsyncClient(base_url=admin_url, timeout=30) as admin,
            ):
                yield Awaken(app, engine, ingress, admin, ingress_url, admin_url)
        finally:
            for server, _, _ in servers:
                server.should_exit = True
            await asyncio.gather(*(task for _, task, _ in servers), return_exceptions=True)
            await app.shutdown()
