"""A small asyncio HTTP/2 client (cleartext, prior knowledge) that streams both ways at once.

Bidirectional invocations need full duplex on one stream: keep sending request DATA while
response DATA arrives. httpx/httpcore send the whole request body before reading the response,
so this module drives the sans-IO `h2` state machine over an asyncio socket instead. It is only
what the service protocol needs: POST streams to one origin, many of them multiplexed on one
connection (more connections when the peer's MAX_CONCURRENT_STREAMS is reached: `h2pool`), flow
control both ways (what we send waits for the peer's window; what we receive is acknowledged only
as the caller consumes it, so a slow consumer bounds the buffer at one stream window), timeouts,
and a `DeploymentError` for everything the peer can do wrong (refuse, reset, GOAWAY, close, hang).

A GOAWAY ends the connection for every stream on it (h2 accepts no frame after one): their
attempts fail with `ConnectionClosed`, which the engine retries like any transport failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from awaken.protocol.errors import (
    ConnectionClosed,
    DeploymentError,
    DeploymentTimeout,
    DeploymentUnreachable,
    StreamReset,
)
from awaken.protocol.transport import Socket, woken

STREAM_WINDOW = 1 << 20
"""Receive window per stream: what one stream may buffer before its consumer reads."""
CONNECTION_WINDOW = 16 << 20
_WRITE_BUFFER_HIGH = 1 << 18  # bytes in the socket's buffer past which a writer waits for it to drain
STREAMS_BEFORE_SETTINGS = 100  # streams opened on a connection before the peer says its limit
PING_TIMEOUT_S = 1.0  # a connection that does not acknowledge a PING within this is dead


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str  # "http" (h2c, prior knowledge) or "https" (TLS with ALPN h2)
    host: str
    port: int

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class H2Stream:
    """One request: `send` body chunks while `receive` returns response chunks."""

    def __init__(self, connection: H2Connection, stream_id: int, url: str) -> None:
        self._conn = connection
        self.stream_id = stream_id
        self.url = url
        self._waiter: asyncio.Future[object] | None = None  # the caller's, while it waits
        self._status: int | None = None
        self._headers: list[tuple[str, str]] = []
        self._chunks: deque[tuple[bytes, int]] = deque()
        self._ended = False
        self._sent_end = False
        self._error: DeploymentError | None = None

    # --- events from the connection's reader -------------------------------------------------

    def _on_head(self, headers: Sequence[tuple[bytes, bytes]]) -> None:
        status = None
        fields = []
        for name, value in headers:
            key, text = name.decode("latin-1"), value.decode("latin-1")
            if key == ":status":
                status = int(text) if text.isdigit() else 0
            elif not key.startswith(":"):
                fields.append((key, text))
        self._status, self._headers = status or 0, fields
        self._wake()

    def _on_data(self, data: bytes, flow_length: int) -> None:
        self._chunks.append((data, flow_length))
        self._wake()

    def _on_end(self) -> None:
        self._ended = True
        self._wake()

    def _fail(self, error: DeploymentError) -> None:
        if self._error is None and not (self._ended and self._sent_end):
            self._error = error
        self._wake()

    # --- caller side ---------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return (self._ended and self._sent_end) or self._error is not None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, timeout: float | None, what: str) -> None:
        """Until the reader reports something for this stream, or `timeout` seconds.

        A bare future and a timer handle: `asyncio.wait_for` would wrap the wait in a task of
        its own, and this wait happens for every message the SDK sends."""
        self._waiter = self._conn.loop.create_future()
        try:
            woke = await woken(self._conn.loop, self._waiter, timeout)
        finally:
            self._waiter = None
        if not woke:
            raise DeploymentTimeout(f"no {what} within {timeout:.3g} s", self.url)

    async def response_head(self, timeout: float | None = None) -> tuple[int, list[tuple[str, str]]]:
        """Status and headers of the response, waiting up to `timeout` seconds for them."""
        while self._status is None:
            if self._error is not None:
                raise self._error
            await self._wait(timeout, "response headers")
        return self._status, self._headers

    async def receive(self, timeout: float | None = None) -> bytes | None:
        """The next chunk of the response body, or None once the body has ended.

        A timeout raises `DeploymentTimeout` and leaves the stream usable."""
        while True:
            if self._chunks:
                data, flow_length = self._chunks.popleft()
                self._conn._acknowledge(self.stream_id, flow_length)
                if data:
                    return data
                continue
            if self._error is not None:
                raise self._error
            if self._ended:
                return None
            await self._wait(timeout, "response data")

    async def send(self, data: bytes, *, end: bool = False, timeout: float | None = None) -> None:
        """Send body bytes as the peer's flow-control window allows; `end` closes our side."""
        if self._sent_end:
            raise ConnectionClosed("the request body was already ended", self.url)
        view = memoryview(data)
        while view:
            if self._error is not None:
                raise self._error
            window = self._conn._send_window(self)
            if window <= 0:
                await self._conn._wait_window(timeout, self.url)
                continue
            size = min(window, len(view))
            await self._conn._send_data(self, bytes(view[:size]))
            view = view[size:]
        if end:
            await self.end()

    def send_nowait(self, data: bytes) -> bool:
        """Send `data` at once if nothing needs waiting for (the peer's window has room for it
        in one frame, no other writer waits for the socket); False if the caller must `send`."""
        conn = self._conn
        if self._error is not None or self._sent_end or conn._write_lock.locked():
            return False
        if conn._transport.get_write_buffer_size() > _WRITE_BUFFER_HIGH:
            return False
        try:
            if conn._send_window(self) < len(data):
                return False
            conn._h2.send_data(self.stream_id, data)
        except (DeploymentError, h2.exceptions.H2Error):
            return False  # `send` meets the same and reports it
        conn._schedule_push()
        return True

    async def end(self) -> None:
        """Close the request body (END_STREAM); the response may go on.

        If the response is already complete, the stream is reset with NO_ERROR instead (RFC 9113
        8.1 allows either): some servers (hypercorn) drop the whole connection on DATA for a
        stream whose response they finished."""
        if self._sent_end:
            return
        if self._error is not None:
            raise self._error
        self._sent_end = True
        if self._ended:
            await self._conn._reset(self.stream_id, h2.errors.ErrorCodes.NO_ERROR)
        else:
            await self._conn._end_stream(self)
            # A peer that dropped this stream without telling (hypercorn, when an application
            # raised mid-response) fails its whole connection on that END_STREAM and answers
            # nothing more on it: find out now rather than when every stream there times out.
            self._conn.check_alive()

    async def aclose(self, *, answered: bool = False) -> None:
        """Release the stream: reset it (RST_STREAM; CANCEL, or NO_ERROR once the peer ended its
        response or `answered`) unless both sides ended it.

        A stream given up before the peer ended its response (it hung, or we stopped waiting)
        retires its connection: no new streams go there, and it closes once its streams are
        done. A peer that stops answering one stream may have stopped answering them all
        (hypercorn does, after an application error on a stream of the connection). Not so when
        `answered`: the peer has said its last word on the stream (an SDK's End), so it is alive,
        and some peers end the HTTP stream only once ours ended. The release is a reset, never
        an END_STREAM: hypercorn fails the whole connection on DATA for a stream whose response
        it finished, and ours could cross its end on the wire."""
        if not (self._ended and self._sent_end) and self._error is None:
            self._error = ConnectionClosed("the stream was closed locally", self.url)
            done = self._ended or answered
            code = h2.errors.ErrorCodes.NO_ERROR if done else h2.errors.ErrorCodes.CANCEL
            await self._conn._reset(self.stream_id, code)
            if not done:
                self._conn.retire()
        self._conn._forget(self.stream_id)


class H2Connection:
    """One HTTP/2 connection to an origin; the socket's reads feed h2, whose events go to the
    streams."""

    def __init__(self, origin: Origin, socket: Socket) -> None:
        self.origin = origin
        self.loop = asyncio.get_running_loop()  # asked once: on Python 3.11 each ask is a getpid()
        self._socket = socket
        assert socket.transport is not None
        self._transport: asyncio.Transport = socket.transport
        socket.connection = self
        # Our own request headers are built valid (lower-case names, no connection-specific
        # fields): h2 need not check and normalize them again on every request. What the peer
        # sends is still validated.
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        self._h2 = h2.connection.H2Connection(config)
        self._streams: dict[int, H2Stream] = {}
        self.retired = False  # no new streams: it closes when its last stream is released
        # The peer's limit of concurrent streams, kept here (h2's Settings are slow to ask on every
        # stream). Until the peer's SETTINGS arrive, h2 reports an unlimited stream count; a
        # server that allows fewer than we open answers GOAWAY (hypercorn: 100). RFC 9113 §6.5.2
        # advises servers to allow at least 100, so that many is safe before we know.
        self._stream_limit = STREAMS_BEFORE_SETTINGS
        self._write_lock = asyncio.Lock()
        self._push_due = False  # a write of h2's queued frames is scheduled for this turn
        self._window = asyncio.Event()
        self._pings: dict[bytes, asyncio.Future[None]] = {}
        self.deaf = False  # it stopped answering (no PING acknowledgement)
        self._checking: asyncio.Task[None] | None = None
        self._error: DeploymentError | None = None

    @classmethod
    async def connect(
        cls, origin: Origin, *, timeout: float = 10.0, ssl_context: ssl.SSLContext | None = None
    ) -> H2Connection:
        url = f"{origin.scheme}://{origin.authority}"
        context = None
        if origin.scheme == "https":
            context = ssl_context or ssl.create_default_context()
            context.set_alpn_protocols(["h2"])
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, socket = await loop.create_connection(Socket, origin.host, origin.port, ssl=context)
        except TimeoutError:
            raise DeploymentUnreachable(f"connect timed out after {timeout:.3g} s", url) from None
        except (OSError, ssl.SSLError) as exc:
            raise DeploymentUnreachable(f"cannot connect: {exc}", url) from exc
        self = cls(origin, socket)
        self._h2.initiate_connection()
        self._h2.update_settings(
            {
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
            }
        )
        self._h2.increment_flow_control_window(CONNECTION_WINDOW - 65535)
        try:
            await self._flush()
        except DeploymentError:
            self._transport.close()
            raise
        return self

    @property
    def url(self) -> str:
        return f"{self.origin.scheme}://{self.origin.authority}"

    @property
    def usable(self) -> bool:
        return (
            self._error is None and self._h2.state_machine.state is not h2.connection.ConnectionState.CLOSED
        )

    def retire(self) -> None:
        self.retired = True

    def has_capacity(self) -> bool:
        return (
            self.usable
            and not self.retired
            and len(self._streams) < self._stream_limit  # h2's own count walks every stream
            and self._h2.highest_outbound_stream_id < 2**31 - 64
        )

    @property
    def streams_opened(self) -> int:
        """Streams opened on it so far (client stream ids are odd: 1, 3, 5...)."""
        return (self._h2.highest_outbound_stream_id + 1) // 2

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    async def open_stream(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        *,
        body: bytes = b"",
        end: bool = False,
        send_timeout: float | None = None,
    ) -> H2Stream:
        """Send a request's headers and as much of `body` as the window allows, in one write
        (hypercorn fails the connection on DATA that comes after it finished a fast response);
        the rest follows with `H2Stream.send`, which `open_stream` does before returning."""
        if self._error is not None:
            raise self._error
        block = [
            (":method", method),
            (":scheme", self.origin.scheme),
            (":authority", self.origin.authority),
            (":path", path),
            *((k.lower(), v) for k, v in headers.items()),
        ]
        url = f"{self.url}{path}"
        async with self._write_lock:
            try:
                stream_id = self._h2.get_next_available_stream_id()
                self._h2.send_headers(stream_id, block, end_stream=end and not body)
                window = min(self._h2.local_flow_control_window(stream_id), self._h2.max_outbound_frame_size)
                first, rest = body[:window], body[window:]
                if first:
                    self._h2.send_data(stream_id, first, end_stream=end and not rest)
            except h2.exceptions.H2Error as exc:
                raise ConnectionClosed(f"cannot open a stream: {exc!r}", url) from exc
            stream = H2Stream(self, stream_id, url)
            stream._sent_end = end and not rest
            self._streams[stream_id] = stream
            await self._write_locked()
        if rest:
            try:
                await stream.send(rest, end=end, timeout=send_timeout)
            except BaseException:
                await stream.aclose()
                raise
        return stream

    def check_alive(self, timeout: float = PING_TIMEOUT_S) -> None:
        """PING the peer in the background; if no acknowledgement comes within `timeout`, the
        connection is dead: its streams fail with ConnectionClosed (their attempts are retried)
        and the pool opens another."""
        if self._checking is None or self._checking.done():
            self._checking = asyncio.get_running_loop().create_task(self._ping(timeout))

    async def _ping(self, timeout: float) -> None:
        if not self.usable:
            return
        data = os.urandom(8)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pings[data] = waiter
        try:
            async with self._write_lock:
                self._h2.ping(data)
                await self._write_locked()
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            self.deaf = True
            self._die(f"the deployment acknowledged no PING within {timeout:.3g} s")
            self._transport.close()
        except (DeploymentError, h2.exceptions.H2Error):
            pass  # the connection failed already
        finally:
            self._pings.pop(data, None)

    async def aclose(self) -> None:
        if self._checking is not None:
            self._checking.cancel()
        if self._error is None:
            with contextlib.suppress(Exception):
                async with self._write_lock:
                    self._h2.close_connection()
                    self._push()
        self._die("the connection was closed locally")
        self._transport.close()
        await asyncio.shield(self._socket.closed)

    # --- internals used by streams ---------------------------------------------------------------

    async def _write_locked(self) -> None:
        """Have what h2 queued written at the end of this turn of the loop: the frames of every
        stream that moves in one turn (headers, data, resets, acknowledgements) leave in one
        socket write. A socket write is a system call that also wakes the peer: one per frame
        cost more than the HTTP/2 framing itself under load."""
        if self._error is not None:
            raise self._error
        self._schedule_push()
        if self._transport.get_write_buffer_size() > _WRITE_BUFFER_HIGH:
            self._push()
            try:
                await self._socket.drain()
            except (OSError, RuntimeError) as exc:
                self._die(f"write failed: {exc}")
                raise ConnectionClosed(f"write failed: {exc}", self.url) from exc

    def _schedule_push(self) -> None:
        if not self._push_due and self._error is None:
            self._push_due = True
            self.loop.call_soon(self._push)

    def _push(self) -> None:
        """Write what h2 has queued (a failure fails the connection's streams)."""
        self._push_due = False
        data = self._h2.data_to_send()
        if not data or self._transport.is_closing():
            return
        try:
            self._transport.write(data)
        except (OSError, RuntimeError) as exc:
            self._die(f"write failed: {exc}")

    async def _flush(self) -> None:
        async with self._write_lock:
            await self._write_locked()

    def _send_window(self, stream: H2Stream) -> int:
        try:
            return min(self._h2.local_flow_control_window(stream.stream_id), self._h2.max_outbound_frame_size)
        except h2.exceptions.H2Error as exc:
            stream._fail(ConnectionClosed(f"the stream can take no more data: {exc!r}", stream.url))
            raise stream._error or ConnectionClosed("stream closed", stream.url) from exc

    async def _wait_window(self, timeout: float | None, url: str) -> None:
        self._window.clear()
        try:
            await asyncio.wait_for(self._window.wait(), timeout)
        except TimeoutError:
            raise DeploymentTimeout(
                f"the peer opened no flow-control window within {timeout:.3g} s", url
            ) from None

    async def _send_data(self, stream: H2Stream, data: bytes) -> None:
        async with self._write_lock:
            try:
                self._h2.send_data(stream.stream_id, data)
            except h2.exceptions.H2Error as exc:
                stream._fail(ConnectionClosed(f"cannot send on the stream: {exc!r}", stream.url))
                raise stream._error or ConnectionClosed("stream closed", stream.url) from exc
            await self._write_locked()

    async def _end_stream(self, stream: H2Stream) -> None:
        async with self._write_lock:
            try:
                self._h2.end_stream(stream.stream_id)
            except h2.exceptions.H2Error as exc:
                stream._fail(ConnectionClosed(f"cannot end the stream: {exc!r}", stream.url))
                raise stream._error or ConnectionClosed("stream closed", stream.url) from exc
            await self._write_locked()

    def _acknowledge(self, stream_id: int, flow_length: int) -> None:
        """Give `flow_length` bytes of receive window back (h2 queues a WINDOW_UPDATE only once
        enough is consumed); what it queues leaves with this turn's write."""
        if flow_length <= 0 or not self.usable:
            return
        with contextlib.suppress(h2.exceptions.H2Error):
            self._h2.acknowledge_received_data(flow_length, stream_id)
        self._schedule_push()

    async def _reset(self, stream_id: int, code: h2.errors.ErrorCodes) -> None:
        if not self.usable:
            return
        async with self._write_lock:
            with contextlib.suppress(h2.exceptions.H2Error):
                self._h2.reset_stream(stream_id, code)
            with contextlib.suppress(DeploymentError):
                await self._write_locked()

    def _forget(self, stream_id: int) -> None:
        self._streams.pop(stream_id, None)

    # --- the reader task ---------------------------------------------------------------------------

    def _fail_streams(self, reason: str) -> None:
        for stream in list(self._streams.values()):
            stream._fail(ConnectionClosed(reason, stream.url))
        self._window.set()

    def lost(self, reason: str) -> None:
        """The connection failed: its streams fail with `reason` (the socket calls it too)."""
        self._die(reason)

    def _die(self, reason: str) -> None:
        if self._error is None:
            self._error = ConnectionClosed(reason, self.url)
        self._fail_streams(reason)

    def received(self, data: bytes) -> None:
        """Bytes from the socket: h2's events go to the streams; what h2 queued in answer
        (settings acknowledgements, pings, window updates) leaves with this turn's write."""
        if self._error is not None:
            return
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._die(f"HTTP/2 protocol error from the deployment: {exc}")
            self._push()  # the GOAWAY h2 queued
            self._transport.close()
            return
        for event in events:
            self._dispatch(event)
        self._schedule_push()
        if self._error is not None:
            self._transport.close()

    def _dispatch(self, event: h2.events.Event) -> None:
        match event:
            case h2.events.ResponseReceived(stream_id=sid, headers=headers) if sid in self._streams:
                self._streams[sid]._on_head(headers or [])
            case h2.events.DataReceived(stream_id=sid, data=data, flow_controlled_length=n) if (
                sid in self._streams
            ):
                self._streams[sid]._on_data(data or b"", n or 0)
            case h2.events.DataReceived(stream_id=sid, flow_controlled_length=n):
                # Data for a stream we already released: give its window back to the connection.
                with contextlib.suppress(h2.exceptions.H2Error):
                    self._h2.acknowledge_received_data(n or 0, sid or 0)
            case h2.events.StreamEnded(stream_id=sid) if sid in self._streams:
                self._streams[sid]._on_end()
            case h2.events.StreamReset(stream_id=sid, error_code=code) if sid in self._streams:
                stream = self._streams[sid]
                stream._fail(StreamReset(int(code or 0), stream.url))
            case h2.events.RemoteSettingsChanged():
                self._stream_limit = self._h2.remote_settings.max_concurrent_streams
                self._window.set()
            case h2.events.PingAckReceived(ping_data=data) if data in self._pings:
                waiter = self._pings.pop(data)
                if not waiter.done():
                    waiter.set_result(None)
            case h2.events.WindowUpdated():
                self._window.set()
            case h2.events.ConnectionTerminated(error_code=code, last_stream_id=last):
                self._die(f"the deployment sent GOAWAY (error code {int(code or 0)}, last stream {last})")
            case _:
                pass
