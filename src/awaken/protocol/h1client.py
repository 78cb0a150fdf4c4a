"""A small asyncio HTTP/1.1 client for request/response invocations, with kept-alive connections.

An `asyncio.Protocol` with `httptools` (llhttp, the parser uvicorn uses) reading the responses:
one request per connection at a time, the request's head and body in one write, the response read
as it arrives. A connection goes back to its origin's pool only once the response is complete,
nothing followed it and the server keeps the connection alive; anything else (a response cut
short, given up, framed badly, with a head over `MAX_HEAD_SIZE`) closes it. (h11 did this before;
its pure-Python parsing cost a fifth of the server's CPU per remote invocation at concurrency 64.)
The request is written here: its head is the client's own fields, and a deployment's additional
headers are checked when it is registered (`deployment.header_problem`).

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

import httptools

from awaken.protocol.errors import ConnectionClosed, DeploymentError, DeploymentTimeout, DeploymentUnreachable
from awaken.protocol.h2client import Origin
from awaken.protocol.transport import woken

MAX_HEAD_SIZE = 64 << 10
"""The largest response head (status line and headers) accepted."""
READ_BUFFER = 1 << 20
"""Response bytes buffered before reading pauses until the caller consumes them."""
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


class H1Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: at most one exchange at a time; httptools calls its `on_*`
    methods as it parses a response."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self._parser: httptools.HttpResponseParser | None = None  # one per exchange
        self._head_bytes = 0  # of the response head read so far (status line and fields)
        self._head_fed = 0  # bytes received while the head was incomplete
        self._head_done = False  # of the response that counts (informational ones skipped)
        self._framed = False  # the response has a content-length or is chunked
        self._keep_alive = False  # the server keeps the connection for another request
        self._trailing = False  # bytes came after the response
        self._transport: asyncio.Transport | None = None
        self._sock: Any = None
        self._fd: int | None = None  # the transport's socket
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
        self._fd = None if sock is None else sock.fileno()
        if _QUICKACK is not None and sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # A socket of our own on a duplicate of the descriptor: uvloop's stand-in makes a new
            # socket object for every setsockopt, and this one is called on every read.
            self._sock = socket.fromfd(sock.fileno(), sock.family, sock.type)

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if not self.active or parser is None:
            # Bytes nobody asked for (an idle connection): the next response would be mixed up.
            self._die("the deployment sent data outside of a response")
            return
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        self.received_any = True
        in_head = not self._head_done
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            # (an exception raised in a callback comes as the context of a callback error)
            cause = exc.__context__ if isinstance(exc, httptools.HttpParserCallbackError) else exc
            self._die(f"malformed response: {cause or exc}")
            return
        if in_head and not self._head_done:
            # httptools keeps a field it has not seen the end of: bound what the head may take.
            self._head_fed += len(data)
            if self._head_fed > MAX_HEAD_SIZE:
                self._die(f"malformed response: {_HeadTooLarge()}")
                return
        self._received()

    def eof_received(self) -> bool | None:
        if self.active and self._head_done and not self._ended:
            if self._framed:
                self._die("the deployment closed the connection mid-response")
                return None
            self._ended = True  # a body delimited by the end of the connection
            self._received()
        self._die("the deployment closed the connection")
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        reason = "the deployment closed the connection" if exc is None else f"connection lost: {exc}"
        self._die(reason)
        if self._sock is not None:
            self._sock.close()  # the duplicate descriptor (the transport closed its own)
            self._sock = None

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        self._wake()

    # --- httptools' callbacks, then what they found ----------------------------------------------

    def on_message_begin(self) -> None:
        if self._ended:
            self._trailing = True  # another message after the response: not ours to read

    def on_status(self, status: bytes) -> None:
        self._head_bytes += len(status)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._ended:
            return
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_HEAD_SIZE:
            raise _HeadTooLarge()
        lower = name.lower()
        if lower == b"content-length" or (lower == b"transfer-encoding" and b"chunked" in value.lower()):
            self._framed = True
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        status = self._parser.get_status_code()
        if status < 200 or self._ended:
            return  # informational (100 Continue...): its end is skipped, the response follows
        self.status = status
        self._head_done = True

    def on_body(self, body: bytes) -> None:
        if self._ended:
            return
        if self._on_done is not None:
            self._discard_budget -= len(body)
        else:
            self._chunks.append(body)
            self._buffered += len(body)

    def on_message_complete(self) -> None:
        if self._ended:
            return
        if not self._head_done:  # an informational response ended: start over for the real one
            self.headers, self._head_bytes, self._framed = [], 0, False
            self._head_fed = 0
            return
        assert self._parser is not None
        self._ended = True
        self._keep_alive = self._parser.should_keep_alive()

    def _received(self) -> None:
        if self._on_done is not None and self._discard_budget < 0:
            self._die("the rest of an abandoned response was too long")
            return
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
        self._waiter = self._loop.create_future()
        try:
            woke = await woken(self._loop, self._waiter, timeout)
        finally:
            self._waiter = None
        if not woke:
            raise DeploymentTimeout(f"no {what} within {timeout:.3g} s", self.url)

    # --- the exchange ---------------------------------------------------------------------------------

    def send_request(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> None:
        """Write the whole request at once (head and body in one segment where they fit)."""
        if self._error is not None:
            raise self._error
        assert self._transport is not None and not self.active
        self.url = f"{self.origin.scheme}://{self.origin.authority}{target}"
        lines = [f"{method} {target} HTTP/1.1", f"host: {self.origin.authority}"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        if body or method not in ("GET", "HEAD"):
            lines.append(f"content-length: {len(body)}")
        try:
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
        except UnicodeEncodeError as exc:
            raise DeploymentError(f"cannot send the request: {exc}", self.url) from exc
        self._parser = httptools.HttpResponseParser(self)
        self.active = True
        self._transport.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            self._transport.write(body)

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
        if not (self.usable and self._ended and not self._chunks and self._keep_alive):
            return False
        if self._trailing:
            return False  # bytes after the response: not ours to interpret
        self._parser = None
        self.active = self.received_any = self._ended = False
        self._head_done = self._framed = self._keep_alive = False
        self._head_bytes = self._head_fed = 0
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
        if self._fd is None:
            return False
        try:
            readable, _, _ = select.select([self._fd], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)


class _HeadTooLarge(Exception):
    """Raised from httptools' callback to stop reading a response head over MAX_HEAD_SIZE."""

    def __str__(self) -> str:
        return f"a response head over {MAX_HEAD_SIZE} bytes"


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
