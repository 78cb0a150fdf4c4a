"""What both deployment clients' connections wait with: a future woken or timed out, and the
transport protocol of an HTTP/2 connection."""

from __future__ import annotations

import asyncio
from typing import Protocol

_EXPIRED = object()


def _expire(waiter: asyncio.Future[object]) -> None:
    if not waiter.done():
        waiter.set_result(_EXPIRED)


async def woken(
    loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[object], timeout: float | None
) -> bool:
    """Wait until `waiter` is resolved (by whoever wakes it), for `timeout` seconds at most; False
    if the time ran out. A bare future and a timer handle: `asyncio.wait_for` would wrap the wait
    in a task of its own, and the clients wait so for every message of a deployment."""
    timer = None if timeout is None else loop.call_later(timeout, _expire, waiter)
    try:
        return await waiter is not _EXPIRED
    finally:
        if timer is not None:
            timer.cancel()


class SocketReader(Protocol):
    def received(self, data: bytes) -> None: ...

    def lost(self, reason: str) -> None: ...


class Socket(asyncio.Protocol):
    """The transport's callbacks for an HTTP/2 connection: bytes read go straight to its reader
    (no task to wake per read), and writers wait here while the socket's buffer is full."""

    def __init__(self) -> None:
        self.connection: SocketReader | None = None
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._drained: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not asyncio.Transport

    def data_received(self, data: bytes) -> None:
        connection = self.connection
        if connection is None:
            return
        try:
            connection.received(data)
        except Exception as exc:  # h2 raised something other than a protocol error: a dead end
            connection.lost(f"cannot read the deployment's HTTP/2: {exc!r}")
            if self.transport is not None:
                self.transport.close()

    def eof_received(self) -> bool:
        if self.connection is not None:
            self.connection.lost("the deployment closed the connection")
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.connection is not None:
            reason = f"connection lost: {exc}" if exc else "the deployment closed the connection"
            self.connection.lost(reason)
        if not self.closed.done():
            self.closed.set_result(None)
        self.resume_writing()

    def pause_writing(self) -> None:
        if self._drained is None or self._drained.done():
            self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    async def drain(self) -> None:
        if self._drained is not None:
            await asyncio.shield(self._drained)
        if self.closed.done():
            raise ConnectionResetError("connection lost")
