"""`awaken serve`: the ingress and the admin API of an app under uvicorn, in one process.

Both ports are bound before anything starts, so a port in use stops the process with a clear
message before the engine runs; the ready line ("serving ...") comes once both listen. The
engine starts before the servers and stops after them (shutdown.py says how, and how fast).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import os
import socket
import sys
from collections.abc import Generator
from typing import Any, Literal, cast

import uvicorn

from awaken.admin.app import AdminApp
from awaken.application import AwakenApp
from awaken.cli.shutdown import Draining, Stopper, drain_after
from awaken.errors import AwakenError
from awaken.observability.logs import LIFECYCLE_LOGGER
from awaken.settings import Settings

log = logging.getLogger(LIFECYCLE_LOGGER)

BACKLOG = 2048
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class StartupError(Exception):
    """`awaken serve` cannot start: the message says why (exit code 3)."""


class _Server(uvicorn.Server):
    # Two servers share one process: signals are handled once, by the Stopper, for both.
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def load_app(target: str) -> Any:
    """`module:attribute`, with the module resolved from the current directory (as uvicorn)."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise StartupError(f"expected MODULE:APP (e.g. examples.payments:app), got {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise StartupError(
                f"cannot load {target}: no module named {exc.name!r} (from {os.getcwd()})"
            ) from None
        raise  # an import inside the app failed: its traceback is the app's to show
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise StartupError(f"cannot load {target}: {module_name} has no attribute {attr!r}") from None
    if not callable(obj):
        raise StartupError(f"{target} is not an ASGI application: make one with awaken.app(services=[...])")
    return obj


GC_GEN0_THRESHOLD = 50_000


def tune_gc() -> None:
    """The collector runs every 700 allocations by default, and each gen-2 pass walks every
    object of the app and its libraries. A server allocates many short-lived objects per request
    (most freed by reference counting), so: freeze what start-up made (no pass walks it again)
    and collect the young generation less often. Measured at concurrency 64: about 10% less CPU
    per call."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 20, 100)


MMAP_THRESHOLD = 4 * 1024 * 1024


def tune_malloc() -> None:
    """glibc serves an allocation of 128 KiB or more with a mapping of its own, returned to the
    system when freed, but raises that threshold to the size of each such block freed (up to 32
    MiB): after one large request body, every later body is carved from the heap, which it does
    not give back. Measured with eight 31 MiB bodies at once: 240 MiB still held afterwards with
    the moving threshold, 70 MiB with a fixed one of 256 KiB, 115 MiB with 4 MiB. The threshold is
    4 MiB: below it every large value (a 1 MiB state value is built several times per call) would
    be a fresh mapping, page-faulted in and unmapped each time: a call that rewrites a 1 MiB
    value cost 15.7 ms of CPU with 256 KiB, 5.3 ms with 4 MiB. Not glibc: nothing to do."""
    if sys.platform != "linux":
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(M_TRIM_THRESHOLD, 4 * MMAP_THRESHOLD)


def bind(what: str, host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a StartupError that says which and why."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise StartupError(f"cannot listen on {host}:{port} for the {what}: {exc}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise StartupError(f"cannot listen on {host}:{port} for the {what}: {reason}") from None
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _config(app: Any, lifespan: Literal["on", "off"], grace: float) -> uvicorn.Config:
    backstop = drain_after(grace) + (grace - drain_after(grace)) / 2
    return uvicorn.Config(
        app,
        lifespan=lifespan,
        log_config=None,  # awaken configured logging for everyone (observability/logs.py)
        log_level=None,
        access_log=False,
        timeout_keep_alive=75,
        proxy_headers=False,  # a loopback or sidecar ingress; spares a middleware per request
        server_header=False,
        # uvicorn's own backstop, after our 503s and before the engine's turn (typed int, but
        # uvicorn only hands it to asyncio.wait_for, which takes any number of seconds)
        timeout_graceful_shutdown=cast(int, backstop),
    )


async def _serve_one(server: uvicorn.Server, sock: socket.socket) -> int:
    """Serve until stopped; the exit code (uvicorn exits the process when start-up fails)."""
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


async def serve(app: Any, settings: Settings, target: str) -> int:
    """Serve until SIGINT / SIGTERM; the process's exit code. StartupError if it cannot start."""
    awaken_app = app if isinstance(app, AwakenApp) else None
    grace = settings.shutdown_grace
    servers: list[_Server] = []
    draining: list[Draining] = []
    stopper = Stopper(servers, draining, grace)
    stopper.install(asyncio.get_running_loop())  # a signal during start-up stops it too
    sockets = [bind("ingress", settings.host, settings.port)]
    try:
        if awaken_app is not None and settings.admin_port:
            sockets.append(bind("admin API", settings.admin_host, settings.admin_port))
        if awaken_app is not None:
            try:
                await awaken_app.startup()
            except (AwakenError, ValueError) as exc:  # a known condition: its message says it all
                raise StartupError(f"cannot start: {exc}") from None
    except BaseException:
        for sock in sockets:
            sock.close()
        stopper.finished()
        raise
    draining.append(Draining(app))
    servers.append(_Server(_config(draining[0], "off" if awaken_app else "on", grace)))
    if awaken_app is not None and len(sockets) > 1:
        draining.append(Draining(AdminApp(awaken_app, token=settings.admin_token_value())))
        servers.append(_Server(_config(draining[1], "off", grace)))
    try:
        if stopper.stopping:  # stopped while it started: nothing to serve
            for sock in sockets:
                sock.close()
            return 0
        return await _run(servers, stopper, awaken_app, settings, target, sockets)
    finally:
        if awaken_app is not None:
            await awaken_app.shutdown()  # the engine stops after the servers, within the grace
        stopper.finished()
        log.info("stopped")


async def _run(
    servers: list[_Server],
    stopper: Stopper,
    awaken_app: AwakenApp | None,
    settings: Settings,
    target: str,
    sockets: list[socket.socket],
) -> int:
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(_serve_one(s, sock)) for s, sock in zip(servers, sockets, strict=True)]
    while not all(s.started for s in servers) and not any(t.done() for t in tasks):
        await asyncio.sleep(0.01)
    if any(t.done() for t in tasks):  # one failed to start (uvicorn said why): stop them all
        for server in servers:
            server.should_exit = True
        codes = await asyncio.gather(*tasks)
        return next((c for c in codes if c), 3)
    if stopper.stopping:  # a signal came while the servers started
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks)
        return 0
    _ready(awaken_app, settings, target, sockets)
    tune_gc()
    tune_malloc()
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    crashed = not stopper.stopping
    if crashed:
        stopper.stop("a server stopped by itself")
    codes = await asyncio.gather(*tasks)
    return next((c for c in codes if c), 1 if crashed else 0)


def _ready(
    awaken_app: AwakenApp | None, settings: Settings, target: str, sockets: list[socket.socket]
) -> None:
    where = f"ingress on {_url(sockets[0])}"
    if len(sockets) > 1:
        where += f", admin API on {_url(sockets[1])}"
        if settings.admin_host not in LOOPBACK and settings.admin_token is None:
            log.warning(
                "the admin API listens on %s with no token: whoever reaches it can cancel, kill and "
                "purge invocations and replace state; set --admin-token (docs/admin.md)",
                settings.admin_host,
            )
    database = awaken_app.settings().db if awaken_app is not None else "set by the app"
    log.info("serving %s: %s (database %s)", target, where, database)
