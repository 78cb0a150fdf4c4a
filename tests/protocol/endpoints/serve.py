"""Serve an ASGI app on a free loopback port: `python -m tests.protocol.endpoints.serve SERVER APP`.

SERVER is `hypercorn` (HTTP/2 cleartext with prior knowledge, and HTTP/1.1) or `uvicorn`
(HTTP/1.1 only); APP is `module:attribute`. The socket is bound here, on 127.0.0.1 port 0, so
the port is known before the server starts: it is printed as one JSON line `{"port": N}`.
`ENDPOINT_PORT` binds a given port instead (a test that restarts an endpoint where it was).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import socket
import sys
from typing import Any


def _load(spec: str) -> Any:
    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module), attribute)


async def _hypercorn(app: Any, sock: socket.socket, stop: asyncio.Event) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"fd://{sock.fileno()}"]
    config.loglevel = "WARNING"
    config.keep_alive_timeout = 600
    config.graceful_timeout = 1.0
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


async def _uvicorn(app: Any, sock: socket.socket, stop: asyncio.Event) -> None:
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_keep_alive=600, timeout_graceful_shutdown=1
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await stop.wait()
    server.should_exit = True
    await task


async def main(kind: str, app_spec: str) -> None:
    app = _load(app_spec)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(os.environ.get("ENDPOINT_PORT", "0"))))  # the same port after a restart
    sock.listen(1024)
    sock.set_inheritable(True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    await (_hypercorn if kind == "hypercorn" else _uvicorn)(app, sock, stop)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
