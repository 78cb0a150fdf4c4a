"""A small asyncio HTTP/1.1 client for request/response invocations, with kept-alive connections.

The sans-IO `h11` state machine over an `asyncio.Protocol`: one request per connection at a time,
the request's head and body in one write, the response read as it arrives. A connection goes
back to its origin's pool only once both messages are complete and h11 says it can carry
another; anything else (a response cut short, given up, or framed badly) closes it.

Kept-alive connections and servers that leave Nagle's algorithm on (asyncio does not set
TCP_NODELAY on sockets made with protocol 0, as gunicorn's and uvicorn's multi-worker sockets are)
stall: the server holds its last small writes (an SDK's End message, the chunked body's end) until
its first segment is acknowledged, and Linux delays that ACK by up to 40 ms on a connection that
is no longer new. So the client acknowledges at once while it reads a response (TCP_QUICKACK,
re-armed on every read since the kernel drops it by itself).

A pooled connection that the peer closed while idle is found before use (its socket is readable),
and a write that fails at once on a pooled connection is retried once on a new one: in both cases
nothing of the request reached the server. A request is never sent twice once it may have been
read.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, cast

import h11

from awaken.protocol.errors import ConnectionClosed, DeploymentError, DeploymentTimeout, DeploymentUnreachable
from awaken.protocol.h2client import Origin

MAX_HEAD_SIZE = 64 << 10
"""The largest response head (status line and headers) accepted."""
READ_BUFFER = 1 << 20
"""Response bytes buffered before reading pauses until the caller consumes them."""
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only
_TIMED_OUT = object()


class H1Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: at most one exchange at a time, driven by h11."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_SIZE)
        self._transport: asyncio.Transport | None = None
        self._sock: Any = None
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[object] | None = None
        self._error: DeploymentError | None = None
        self._paused_writing = False
        self._paused_reading = False
        # The exchange in progress: the response as parsed so far.
        self.active = False
        self.received_any = False
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._ended = False
        # Set while a response nobody reads any more is drained so that the connection is reused.
        self._on_done: Callable[[H1Connection], None] | None = None
        self._discard_budget = 0
        self.idle_since = 0.0
        self.expiry: asyncio.TimerHandle | None = None
        self.url = f"{origin.scheme}://{origin.authority}"  # then the request's, for its errors

    @property
    def usable(self) -> bool:
        return self._error is None and self._transport is not None and not self._transport.is_closing()

    # --- asyncio.Protocol ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        sock = transport.get_extra_info("socket")
        if _QUICKACK is not None and sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            self._sock = sock

    def data_received(self, data: bytes) -> None:
        if not self.active:
            # Bytes nobody asked for (an idle connection): the next response would be mixed up.
            self._die("the deployment sent data outside of a response")
            return
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        self.received_any = True
        self._h11.receive_data(data)
        self._pump()

    def eof_received(self) -> bool | None:
        if self.active:
            self._h11.receive_data(b"")
            self._pump(eof=True)
        self._die("the deployment closed the connection")
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        reason = "the deployment closed the connection" if exc is None else f"connection lost: {exc}"
        self._die(reason)

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        self._wake()

    # --- parsing --------------------------------------------------------------------------------------

    def _pump(self, eof: bool = False) -> None:
        while not self._ended:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                what = "the deployment closed the connection mid-response" if eof else "malformed response"
                self._die(f"{what}: {exc}")
                return
            match event:
                case h11.Response(status_code=status, headers=headers):
                    self.status = status
                    self.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]
                case h11.Data(data=data):
                    if self._on_done is not None:
                        self._discard_budget -= len(data)
                        if self._discard_budget < 0:
                            self._die("the rest of an abandoned response was too long")
                            return
                    else:
                        self._chunks.append(bytes(data))
                        self._buffered += len(data)
                case h11.EndOfMessage():
                    self._ended = True
                case h11.ConnectionClosed():
                    self._die("the deployment closed the connection")
                    return
                case _:  # NEED_DATA, PAUSED; informational responses are skipped
                    if event is h11.NEED_DATA or event is h11.PAUSED:
                        break
        if self._buffered > READ_BUFFER and not self._paused_reading and self._transport is not None:
            self._paused_reading = True
            self._transport.pause_reading()
        if self._ended and self._on_done is not None:
            self._on_done(self)
        self._wake()

    def _die(self, reason: str) -> None:
        if self._error is None:
            self._error = ConnectionClosed(reason, self.url)
        if self._transport is not None:
            self._transport.close()
        if self._on_done is not None:
            on_done, self._on_done = self._on_done, None
            on_done(self)
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _wait(self, timeout: float | None, what: str) -> None:
        waiter = self._waiter = self._loop.create_future()
        timer = None if timeout is None else self._loop.call_later(timeout, _expire, waiter)
        try:
            result = await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        if result is _TIMED_OUT:
            raise DeploymentTimeout(f"no {what} within {timeout:.3g} s", self.url)

    # --- the exchange ---------------------------------------------------------------------------------

    def send_request(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> None:
        """Write the whole request at once (head and body in one segment where they fit)."""
        if self._error is not None:
            raise self._error
        assert self._transport is not None and not self.active
        self.url = f"{self.origin.scheme}://{self.origin.authority}{target}"
        fields = [("host", self.origin.authority), *headers.items()]
        if body or method not in ("GET", "HEAD"):
            fields.append(("content-length", str(len(body))))
        try:
            data = self._h11.send(h11.Request(method=method, target=target, headers=fields))
            if body:
                data = (data or b"") + (self._h11.send(h11.Data(data=body)) or b"")
            data = (data or b"") + (self._h11.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            raise DeploymentError(f"cannot send the request: {exc}", self.url + target) from exc
        self.active = True
        self._transport.write(data)

    async def drain(self, timeout: float | None) -> None:
        """Wait until the request is handed to the kernel (or the response came first)."""
        while self._paused_writing and self._error is None and self.status is None:
            await self._wait(timeout, "progress writing the request")

    async def response_head(self, timeout: float | None) -> tuple[int, list[tuple[str, str]]]:
        while self.status is None:
            if self._error is not None:
                raise self._error
            await self._wait(timeout, "response headers")
        return self.status, self.headers

    async def receive(self, timeout: float | None) -> bytes | None:
        """The next chunk of the response body, or None at its end. A timeout leaves it usable."""
        while True:
            if self._chunks:
                data = self._chunks.popleft()
                self._buffered -= len(data)
                if self._paused_reading and self._buffered <= READ_BUFFER // 2 and self._transport:
                    self._paused_reading = False
                    self._transport.resume_reading()
                return data
            if self._ended:
                return None
            if self._error is not None:
                raise self._error
            await self._wait(timeout, "response data")

    def reusable(self) -> bool:
        """True once the exchange is complete and the connection can carry another (which it is
        then reset for)."""
        if not (self.usable and self._ended and not self._chunks):
            return False
        if self._h11.our_state is not h11.DONE or self._h11.their_state is not h11.DONE:
            return False
        if self._h11.trailing_data[0]:
            return False  # bytes after the response: not ours to interpret
        self._h11.start_next_cycle()
        self.active = self.received_any = self._ended = False
        self.status, self.headers = None, []
        return True

    def finish_in_background(
        self, on_done: Callable[[H1Connection], None], limit: int, timeout: float
    ) -> None:
        """Let the rest of the response arrive without a reader, then call `on_done(self)`; more
        than `limit` bytes or `timeout` seconds close the connection instead."""
        self._chunks.clear()
        self._buffered = 0
        if self._paused_reading and self._transport is not None:
            self._paused_reading = False
            self._transport.resume_reading()
        self._discard_budget = limit
        self._on_done = on_done
        if self._ended or self._error is not None:
            on_done(self)
            self._on_done = None
            return
        self.expiry = self._loop.call_later(
            timeout, self._die, "the rest of an abandoned response was too slow"
        )

    def close(self) -> None:
        self._on_done = None
        if self._transport is not None:
            self._transport.close()

    def peer_closed(self) -> bool:
        """Whether the peer closed an idle connection (or sent something) and the event loop has
        not noticed yet: readable while idle means either, and neither can be reused."""
        if not self.usable or self._transport is None:
            return True
        sock = self._transport.get_extra_info("socket")
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock.fileno()], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)


def _expire(waiter: asyncio.Future[object]) -> None:
    if not waiter.done():
        waiter.set_result(_TIMED_OUT)


class H1Response:
    """The response to one request: its head, then `receive` for the body as it arrives.

    `aclose` hands the connection back to the pool when the body was read to its end; `finish`
    (after the last message of interest) lets the body end arrive in the background first."""

    def __init__(self, pool: H1Pool, connection: H1Connection, url: str) -> None:
        self._pool = pool
        self._conn = connection
        self.url = url
        self.status = connection.status or 0
        self.headers = connection.headers
        self._released = False

    async def receive(self, timeout: float | None = None) -> bytes | None:
        return await self._conn.receive(timeout)

    async def read(self, limit: int, timeout: float | None = None) -> bytes:
        """The whole body; more than `limit` bytes raise `DeploymentError`."""
        chunks, size = [], 0
        while (chunk := await self.receive(timeout)) is not None:
            size += len(chunk)
            if size > limit:
                raise DeploymentError(f"response larger than {limit} bytes", self.url)
            chunks.append(chunk)
        return b"".join(chunks)

    def finish(self, *, limit: int = 64 << 10, timeout: float = 1.0) -> None:
        """Release the connection once the rest of the body (at most `limit` bytes, within
        `timeout` seconds) has arrived unread; it is closed otherwise."""
        if self._released:
            return
        self._released = True
        self._conn.finish_in_background(self._pool._release, limit, timeout)

    async def aclose(self) -> None:
        """Release the connection: back to the pool if the exchange is complete, else closed."""
        if self._released:
            return
        self._released = True
        self._pool._release(self._conn)


class H1Pool:
    """Kept-alive HTTP/1.1 connections by origin: at most `max_idle` idle ones per origin, each
    closed after `idle_timeout` seconds unused (below the 5 s that uvicorn and node keep an idle
    connection, so that the server is not the first to close)."""

    def __init__(
        self,
        *,
        connect_timeout: float = 10.0,
        max_idle: int = 64,
        idle_timeout: float = 4.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._connect_timeout = connect_timeout
        self._max_idle = max_idle
        self._idle_timeout = idle_timeout
        self._ssl_context = ssl_context
        self._idle: dict[Origin, list[H1Connection]] = {}
        self._busy: set[H1Connection] = set()  # carrying (or finishing) an exchange
        self._closed = False
        self.connections_opened = 0

    def idle(self, origin: Origin) -> int:
        return len(self._idle.get(origin, []))

    async def request(
        self,
        origin: Origin,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes = b"",
        *,
        write_timeout: float | None = None,
        response_timeout: float | None = None,
    ) -> H1Response:
        """Send a request and wait for the head of its response."""
        url = f"{origin.scheme}://{origin.authority}{target}"
        if self._closed:
            raise ConnectionClosed("the HTTP/1.1 pool is closed", url)
        conn = self._take(origin)
        if conn is not None:
            try:
                conn.send_request(method, target, headers, body)
            except ConnectionClosed:
                conn = None  # the write failed at once: nothing was sent
            else:
                if not conn.usable and not conn.received_any:
                    conn.close()
                    conn = None
        if conn is None:
            conn = await self._connect(origin, url)
            conn.send_request(method, target, headers, body)
        self._busy.add(conn)
        try:
            await conn.drain(write_timeout)
            await conn.response_head(response_timeout)
        except BaseException:
            self._busy.discard(conn)
            conn.close()
            raise
        return H1Response(self, conn, url)

    def _take(self, origin: Origin) -> H1Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()  # the most recently used: the others may expire
            if conn.expiry is not None:
                conn.expiry.cancel()
                conn.expiry = None
            if now - conn.idle_since < self._idle_timeout and not conn.peer_closed():
                return conn
            conn.close()
        return None

    async def _connect(self, origin: Origin, url: str) -> H1Connection:
        context = None
        if origin.scheme == "https":
            if self._ssl_context is None:  # made once: loading the CA certificates takes a while
                self._ssl_context = ssl.create_default_context()
            context = self._ssl_context
            context.set_alpn_protocols(["http/1.1"])
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, protocol = await loop.create_connection(
                    lambda: H1Connection(origin),
                    origin.host,
                    origin.port,
                    ssl=context,
                    server_hostname=origin.host if context else None,
                )
        except TimeoutError:
            raise DeploymentUnreachable(
                f"connect timed out after {self._connect_timeout:.3g} s", url
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise DeploymentUnreachable(f"cannot connect: {exc}", url) from exc
        self.connections_opened += 1
        return protocol

    def _release(self, conn: H1Connection) -> None:
        self._busy.discard(conn)
        if conn.expiry is not None:
            conn.expiry.cancel()
            conn.expiry = None
        conn._on_done = None
        if self._closed or not conn.reusable():
            conn.close()
            return
        idle = self._idle.setdefault(conn.origin, [])
        if len(idle) >= self._max_idle:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        conn.expiry = asyncio.get_running_loop().call_later(self._idle_timeout, self._expire, conn)
        idle.append(conn)

    def _expire(self, conn: H1Connection) -> None:
        conn.expiry = None
        with contextlib.suppress(ValueError):
            self._idle.get(conn.origin, []).remove(conn)
        conn.close()

    async def aclose(self) -> None:
        self._closed = True
        connections = [*self._busy, *(c for idle in self._idle.values() for c in idle)]
        self._busy.clear()
        self._idle.clear()
        for conn in connections:
            if conn.expiry is not None:
                conn.expiry.cancel()
            conn.close()
