"""HTTP/2 connections to deployments, pooled by origin and shared by concurrent streams.

A stream goes to a live connection of its origin that has room for it (the peer's
MAX_CONCURRENT_STREAMS), or to a new one. Connections are retired after so many streams, and an
origin whose connection went deaf gets a connection per stream for a while (`ISOLATE_S`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Mapping

from awaken.protocol.errors import ConnectionClosed
from awaken.protocol.h2client import H2Connection, H2Stream, Origin

log = logging.getLogger("awaken.protocol")

ISOLATE_S = 300.0
"""After a connection of an origin went deaf, each stream to it gets a connection of its own for
this long: one stream the server mishandles then takes down no other."""
REQUESTS_PER_CONNECTION = 500
"""Streams opened on a connection before it is retired for a fresh one. Servers end a
connection after so many requests with a GOAWAY (hypercorn and nginx: 1,000 by default), and h2
accepts no frame after a GOAWAY, so the streams still open on it would fail (and be retried)."""


class H2Pool:
    """HTTP/2 connections by origin, shared by concurrent streams."""

    def __init__(
        self,
        *,
        connect_timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        requests_per_connection: int = REQUESTS_PER_CONNECTION,
    ) -> None:
        self._connect_timeout = connect_timeout
        self._requests_per_connection = requests_per_connection
        self._isolated_until: dict[Origin, float] = {}
        self._ssl_context = ssl_context
        self._connections: dict[Origin, list[H2Connection]] = {}
        self._locks: dict[Origin, asyncio.Lock] = {}
        self._closed = False

    def connections(self, origin: Origin) -> list[H2Connection]:
        return [c for c in self._connections.get(origin, []) if c.usable]

    async def open_stream(
        self,
        origin: Origin,
        method: str,
        path: str,
        headers: Mapping[str, str],
        *,
        body: bytes = b"",
        end: bool = False,
        send_timeout: float | None = None,
    ) -> H2Stream:
        if self._closed:
            raise ConnectionClosed("the HTTP/2 pool is closed", f"{origin.scheme}://{origin.authority}{path}")
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:
            known = self._connections.get(origin, [])
            live = [c for c in known if c.usable and not (c.retired and c.open_streams == 0)]
            dead = [c for c in known if c not in live]
            self._connections[origin] = live
            now = asyncio.get_running_loop().time()
            for connection in dead:
                if connection.deaf:
                    log.warning(
                        "%s stopped answering on a shared HTTP/2 connection: a connection per "
                        "stream to it for the next %d s",
                        connection.url,
                        ISOLATE_S,
                    )
                    self._isolated_until[origin] = now + ISOLATE_S
                await connection.aclose()
            isolated = self._isolated_until.get(origin, 0.0) > now
            found = None if isolated else next((c for c in live if c.has_capacity()), None)
            if found is None:
                found = await H2Connection.connect(
                    origin, timeout=self._connect_timeout, ssl_context=self._ssl_context
                )
                live.append(found)
        stream = await found.open_stream(method, path, headers, body=body, end=end, send_timeout=send_timeout)
        if isolated or found.streams_opened >= self._requests_per_connection:
            found.retire()  # it closes once its streams are done; the next stream opens another
        return stream

    async def aclose(self) -> None:
        self._closed = True
        connections = [c for group in self._connections.values() for c in group]
        self._connections.clear()
        for connection in connections:
            await connection.aclose()
